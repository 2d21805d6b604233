"""Runs the review board's rule cases in rules/cases/*.toml through the real rule engine."""

from __future__ import annotations

import tomllib
from typing import Any

import msgspec
import pytest

from advisor.domain.facts import profile_fact
from advisor.domain.profile import Profile
from advisor.service import Advisor
from advisor.settings import PROJECT_ROOT
from tests.factories import profile_dict

CASES_DIR = PROJECT_ROOT / "rules" / "cases"


def load_cases() -> list[tuple[str, dict[str, Any]]]:
    cases = []
    for path in sorted(CASES_DIR.glob("*.toml")):
        for case in tomllib.loads(path.read_text())["case"]:
            cases.append((f"{path.stem}: {case['name']}", case))
    return cases


CASES = load_cases()


def fired_for(advisor: Advisor, profile_parts: dict[str, Any]) -> frozenset[str]:
    profile = msgspec.convert(profile_dict(**profile_parts), Profile)
    run_catalog = advisor.catalog_for(profile)
    from advisor.costs.assumptions import Resolved
    from advisor.costs.model import PricingRun

    run = PricingRun(profile, Resolved(run_catalog, profile))
    available = bool(run.managed_candidates(profile.workload.capability))
    return advisor.engine.evaluate(profile_fact(profile, managed_residency_available=available))


@pytest.mark.parametrize(("name", "case"), CASES, ids=[name for name, _ in CASES])
def test_rule_case(advisor: Advisor, name: str, case: dict[str, Any]) -> None:
    fired = fired_for(advisor, case["profile"])
    missing = set(case.get("fires", [])) - fired
    unexpected = set(case.get("does_not_fire", [])) & fired
    assert not missing, f"{name}: expected to fire but did not: {sorted(missing)}"
    assert not unexpected, f"{name}: fired but must not: {sorted(unexpected)}"


def test_every_rule_is_exercised_by_a_case(advisor: Advisor) -> None:
    """A rule no case makes fire is a rule nobody has seen work."""
    covered = set().union(*(set(case.get("fires", [])) for _, case in CASES))
    uncovered = {rule.id for rule in advisor.rulebook.rules} - covered
    assert not uncovered, f"rules without a firing case: {sorted(uncovered)}"


def test_case_files_name_only_existing_rules(advisor: Advisor) -> None:
    known = {rule.id for rule in advisor.rulebook.rules}
    named = set().union(*(set(c.get("fires", [])) | set(c.get("does_not_fire", [])) for _, c in CASES))
    assert named <= known, sorted(named - known)
