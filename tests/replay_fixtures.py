"""Real changes to the real rules and catalogs, for replay, drift and impact tests.

Each is a copy of the shipped files with one edit, made at test time (so it follows the files):
the rule change moves CHK-VALIDATION (prefer managed, decisive) from validation-stage to growing
volumes; the price change doubles the token prices of the mid-tier managed model the default
catalog prices (openai/gpt-6.1-terra).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from advisor.settings import PROJECT_ROOT

RULES = PROJECT_ROOT / "rules"
RULE_BEFORE = 'when = { volume_certainty = "validation" }'
RULE_AFTER = 'when = { volume_certainty = "growing" }'
PRICE_BLOCK = 'id = "openai/gpt-6.1-terra"'
PRICE_BEFORE = 'input_per_1m = "1"\noutput_per_1m = "5"\n'
PRICE_AFTER = 'input_per_1m = "2"\noutput_per_1m = "10"\n'
# Profiles whose decision each change flips (and the other does not), and one neither flips.
Parts = dict[str, dict[str, Any]]
MID_STEADY: Parts = {
    "workload": {"daily_tokens": 1_100_000_000, "volume_certainty": "steady", "capability": "mid"},
    "team": {"ml_infra_engineers": 3}}
MID_VALIDATION: Parts = {
    "workload": {"daily_tokens": 3_000_000_000, "volume_certainty": "validation", "capability": "mid"},
    "team": {"ml_infra_engineers": 3}}
SMALL_STEADY: Parts = {
    "workload": {"daily_tokens": 1_000_000, "volume_certainty": "steady", "capability": "small"},
    "team": {"ml_infra_engineers": 0}}


def _edit(path: Path, before: str, after: str, after_marker: str | None = None) -> None:
    text = path.read_text(encoding="utf-8")
    start = 0 if after_marker is None else text.index(after_marker)
    at = text.index(before, start)
    path.write_text(text[:at] + after + text[at + len(before):], encoding="utf-8")


def changed_rules(directory: Path) -> Path:
    """A copy of rules/ with CHK-VALIDATION's condition changed; its catalogs are the shipped ones."""
    target = directory / "rules-changed"
    shutil.copytree(RULES, target)
    _edit(target / "checklist.toml", RULE_BEFORE, RULE_AFTER)
    return target


def changed_catalogs(directory: Path) -> Path:
    """A copy of rules/catalogs/ with one managed model's token prices doubled."""
    target = directory / "catalogs-changed"
    shutil.copytree(RULES / "catalogs", target)
    _edit(target / "sourced-2026-12.toml", PRICE_BEFORE, PRICE_AFTER, after_marker=PRICE_BLOCK)
    return target
