"""The durable_rules adapter: facts, not events; state cleaned up; errors surfaced."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings

from advisor.application.evaluate import Advisor
from advisor.domain.facts import FACT_KIND
from advisor.domain.profile import Profile
from advisor.domain.rules import Rule, Rulebook
from advisor.rules.engine import RuleEngine, RuleEngineError, to_durable_condition, use_msgspec_json
from tests.strategies import profile_bodies


def rule(rule_id: str, **kwargs: Any) -> Rule:
    return Rule(id=rule_id, title="t", category="checklist", encodes="e", quote="q", rationale="r",
                effect="info", **kwargs)


def fact(**fields: Any) -> dict[str, Any]:
    return {"kind": FACT_KIND, **fields}


def test_every_matching_rule_fires_not_just_the_first() -> None:
    engine = RuleEngine(Rulebook(rules=(rule("TST-A", when={"air_gapped": True}),
                                        rule("TST-B", when={"air_gapped": True}),
                                        rule("TST-C", when={"air_gapped": False})), digest="x"))
    assert engine.evaluate(fact(air_gapped=True)) == {"TST-A", "TST-B"}


def test_alternatives_fire_a_rule_once() -> None:
    engine = RuleEngine(Rulebook(rules=(rule("TST-OR", when_any=({"a": True}, {"b": True})),), digest="x"))
    assert engine.evaluate(fact(a=True, b=True)) == {"TST-OR"}
    assert engine.evaluate(fact(a=False, b=False)) == frozenset()


def test_comparisons_and_absent_fields() -> None:
    engine = RuleEngine(Rulebook(rules=(rule("TST-LT", when={"latency_p95_ms": {"lt": 50}}),
                                        rule("TST-RANGE", when={"daily_tokens": {"gt": 10, "lte": 20}})),
                                 digest="x"))
    assert engine.evaluate(fact(latency_p95_ms=49, daily_tokens=20)) == {"TST-LT", "TST-RANGE"}
    assert engine.evaluate(fact(daily_tokens=21)) == frozenset()  # no latency field: never matches


def test_states_are_deleted_so_thousands_of_evaluations_fit() -> None:
    # The engine holds at most 1024 live states per ruleset; leaking them fails on the 1025th.
    engine = RuleEngine(Rulebook(rules=(rule("TST-A", when={"a": True}),), digest="x"))
    for i in range(1500):
        assert engine.evaluate(fact(a=True, n=i)) == {"TST-A"}


class BrokenActions(RuleEngine):
    """An engine whose rule actions raise, as a bug in an action would."""

    def _recorder(self, rule_id: str) -> Callable[[Any], None]:
        def boom(_context: Any) -> None:
            raise ValueError(f"boom in {rule_id}")

        return boom


def test_a_failing_action_is_raised_not_swallowed() -> None:
    engine = BrokenActions(Rulebook(rules=(rule("TST-A", when={"a": True}),), digest="x"))
    with pytest.raises(RuleEngineError, match="boom in TST-A"):
        engine.evaluate(fact(a=True))


def test_conditions_are_guarded_by_kind() -> None:
    condition = to_durable_condition(rule("TST-NE", when={"gpu_procurement": {"ne": "on_prem"}}))
    assert condition == {"m": {"$and": [{"kind": FACT_KIND}, {"$neq": {"gpu_procurement": "on_prem"}}]}}


def test_extreme_but_valid_profiles_evaluate(advisor: Advisor) -> None:
    """Tiny floats (which Python writes as 1e-05) and the largest volumes reach the C engine intact."""
    from tests.factories import make_profile

    for workload in ({"daily_tokens": 10**15, "output_share": 1e-7, "simple_task_share": 5e-5,
                      "peak_to_average": 999.99999},
                     {"daily_tokens": 0, "output_share": 0.0, "simple_task_share": 1.0, "latency_p95_ms": 3_600_000}):
        recommendation = advisor.assess(make_profile(workload=workload))
        assert recommendation.findings


@given(profile_bodies())
@settings(max_examples=100, deadline=None)
def test_msgspec_json_inside_durable_fires_what_the_standard_json_fires(advisor: Advisor,
                                                                        body: dict[str, Any]) -> None:
    """The engine's speed-up (durable_rules marshalling through msgspec) changes no firing."""
    subject = advisor.fact(msgspec.convert(body, Profile))
    fast = advisor.rule_engine.evaluate(subject)
    use_msgspec_json(False)
    try:
        standard = advisor.rule_engine.evaluate(subject)
    finally:
        use_msgspec_json(True)
    assert fast == standard
