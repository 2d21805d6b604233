"""Runs the review board's rule cases in rules/cases/*.toml through the real rule engine and advisor.

A case names a profile, the rules that must (``fires``) and must not (``does_not_fire``) fire, and
optionally what the whole recommendation must say (``expect``): the decision, its strength, a
strength it must not have, which options are unknown or excluded, where an option runs, the
hybrid variant, and whether a break-even exists. A region expectation holds for that region or any
country inside it (``eu`` holds for ``de``).
"""

from __future__ import annotations

import tomllib
from typing import Any

import msgspec
import pytest

from advisor.application.evaluate import Advisor
from advisor.domain.profile import Profile
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


def profile_of(case: dict[str, Any]) -> Profile:
    return msgspec.convert(profile_dict(**case["profile"]), Profile)


@pytest.mark.parametrize(("name", "case"), CASES, ids=[name for name, _ in CASES])
def test_rule_case(advisor: Advisor, name: str, case: dict[str, Any]) -> None:
    fired = {rule.id for rule in advisor.evaluate(profile_of(case)).fired}  # the same evaluation assess runs
    missing = set(case.get("fires", [])) - fired
    unexpected = set(case.get("does_not_fire", [])) & fired
    assert not missing, f"{name}: expected to fire but did not: {sorted(missing)}"
    assert not unexpected, f"{name}: fired but must not: {sorted(unexpected)}"


EXPECTING = [(n, c) for n, c in CASES if "expect" in c]


@pytest.mark.parametrize(("name", "case"), EXPECTING, ids=[name for name, _ in EXPECTING])
def test_case_recommendation(advisor: Advisor, name: str, case: dict[str, Any]) -> None:
    rec = advisor.assess(profile_of(case))
    expect = case["expect"]
    seen = f"{name}: got {rec.decision} ({rec.strength}): {rec.summary}"
    if "decision" in expect:
        assert rec.decision == expect["decision"], seen
    if "strength" in expect:
        assert rec.strength == expect["strength"], seen
    if "not_strength" in expect:
        assert rec.strength != expect["not_strength"], seen
    for option in expect.get("unknown", []):
        o = rec.options.get(option)
        assert o.unavailable_reason, f"{name}: {option} should be unknown"
        assert not o.excluded_by, f"{name}: {option} should be unknown, not excluded"
    for option in expect.get("excluded", []):
        assert rec.options.get(option).excluded_by, f"{name}: {option} should be excluded"
    for option in expect.get("eligible", []):
        assert rec.options.get(option).eligible, f"{name}: {option} should be eligible: {rec.options.get(option)}"
    for option, region in expect.get("region", {}).items():  # runs there, or in a country inside that bloc
        where = rec.options.get(option).region
        inside = where == region or (where in advisor.regions.codes() and advisor.regions.within(where, region))
        assert inside, f"{name}: {option} runs in {where}, not inside {region}"
    for option, variant in expect.get("variant", {}).items():
        assert rec.options.get(option).variant == variant, f"{name}: {option} variant {rec.options.get(option).variant}"
    if "break_even" in expect:
        assert (rec.break_even_daily_tokens is not None) == expect["break_even"], rec.break_even_basis
    for text in expect.get("risk_mentions", []):
        assert any(text in r for r in rec.risks), f"{name}: no risk mentions {text!r}: {rec.risks}"
    for text in expect.get("risk_absent", []):
        assert not any(text in r for r in rec.risks), f"{name}: a risk mentions {text!r}: {rec.risks}"
    for text in expect.get("next_step_mentions", []):
        assert any(text in s for s in rec.next_steps), f"{name}: no next step mentions {text!r}: {rec.next_steps}"


def test_every_rule_is_exercised_by_a_case(advisor: Advisor) -> None:
    """A rule no case makes fire is a rule nobody has seen work."""
    covered = set().union(*(set(case.get("fires", [])) for _, case in CASES))
    uncovered = {rule.id for rule in advisor.rulebook.rules} - covered
    assert not uncovered, f"rules without a firing case: {sorted(uncovered)}"


def test_case_files_name_only_existing_rules(advisor: Advisor) -> None:
    known = {rule.id for rule in advisor.rulebook.rules}
    named = set().union(*(set(c.get("fires", [])) | set(c.get("does_not_fire", [])) for _, c in CASES))
    assert named <= known, sorted(named - known)
