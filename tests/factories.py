"""Profiles for tests: the minimum the contract needs, with parts overridden per test."""

from __future__ import annotations

from typing import Any

import msgspec

from advisor.domain.profile import Profile


def profile_dict(**parts: dict[str, Any]) -> dict[str, Any]:
    base: dict[str, Any] = {
        "organization": {"name": "Acme"},
        "workload": {"daily_tokens": 100_000},
        "team": {"ml_infra_engineers": 0},
    }
    for key, value in parts.items():
        base[key] = {**base.get(key, {}), **value}
    return base


def make_profile(**parts: dict[str, Any]) -> Profile:
    return msgspec.convert(profile_dict(**parts), Profile)
