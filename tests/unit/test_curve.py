"""Cost against volume: the curve agrees with full assessments, at the profile's volume and elsewhere."""

from __future__ import annotations

import itertools
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings

from advisor.analysis.curve import (
    MAX_POINTS,
    Curve,
    decision_at,
    volume_curve,
    volume_dependent_rules,
    volumes,
)
from advisor.domain.profile import Profile
from advisor.domain.rules import Rule, Rulebook
from advisor.engine import RuleEngine
from advisor.service import Advisor, ProfileError
from tests.factories import make_profile
from tests.strategies import profile_bodies


def _at(profile: Profile, volume: int) -> Profile:
    return msgspec.structs.replace(profile, workload=msgspec.structs.replace(profile.workload, daily_tokens=volume))


def _curve_or_none(advisor: Advisor, profile: Profile, points: int = 25) -> Curve | None:
    try:
        advisor.assess(profile)
    except ProfileError:
        return None
    return volume_curve(advisor.evaluate(profile), points)


@given(profile_bodies())
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_the_curve_agrees_with_the_recommendation_at_the_profiles_volume(advisor: Advisor,
                                                                         body: dict[str, Any]) -> None:
    profile = msgspec.convert(body, Profile)
    curve = _curve_or_none(advisor, profile)
    if curve is None:
        return
    recommendation = advisor.assess(profile)
    own = [p for p in curve.points if p.profile]
    assert len(own) == 1
    assert own[0].daily_tokens == profile.workload.daily_tokens == curve.profile_daily_tokens
    assert own[0].decision == recommendation.decision
    for option in curve.options:
        assert own[0].monthly_usd[option] == recommendation.options.get(option).monthly_usd
    for option, excluded in curve.excluded_by.items():
        assert option not in curve.options
        assert recommendation.options.get(option).excluded_by == excluded


@pytest.mark.parametrize("parts", [
    {"workload": {"daily_tokens": 3_000_000}, "team": {"ml_infra_engineers": 2}},
    {"workload": {"daily_tokens": 50_000_000, "simple_task_share": 0.6}, "team": {"ml_infra_engineers": 2}},
    {"workload": {"daily_tokens": 100_000, "volume_certainty": "validation"}},
    {"workload": {"daily_tokens": 400_000_000, "capability": "frontier"}, "team": {"ml_infra_engineers": 3}},
])
def test_every_point_is_what_a_full_assessment_at_that_volume_says(advisor: Advisor,
                                                                    parts: dict[str, Any]) -> None:
    """The cheap path (rules fired once) against the real thing: a full assessment at each volume."""
    profile = make_profile(**parts)
    curve = volume_curve(advisor.evaluate(profile), 9)
    assert curve.rules_fired_once
    for point in curve.points:
        there = advisor.assess(_at(profile, point.daily_tokens))
        assert point.decision == there.decision, point.daily_tokens
        assert point.monthly_usd == {o: there.options.get(o).monthly_usd for o in curve.options}


def test_decision_changes_are_where_full_assessments_change_their_answer(advisor: Advisor) -> None:
    profile = make_profile(workload={"daily_tokens": 50_000_000, "simple_task_share": 0.6},
                           team={"ml_infra_engineers": 2})
    curve = volume_curve(advisor.evaluate(profile))
    assert curve.decision_changes, "this profile's answer changes with volume"
    for change in curve.decision_changes:
        assert advisor.assess(_at(profile, change.daily_tokens - 1)).decision == change.before
        assert advisor.assess(_at(profile, change.daily_tokens)).decision == change.after
    # Between changes the points' decisions are the ones the changes imply.
    for point in curve.points:
        passed = [c for c in curve.decision_changes if c.daily_tokens <= point.daily_tokens]
        expected = passed[-1].after if passed else curve.decision_changes[0].before
        assert point.decision == expected


def test_crossings_are_the_sustained_break_evens(advisor: Advisor) -> None:
    profile = make_profile(workload={"daily_tokens": 3_000_000}, team={"ml_infra_engineers": 2})
    recommendation = advisor.assess(profile)
    curve = volume_curve(advisor.evaluate(profile))
    crossing = next(c for c in curve.crossings if (c.riskier, c.safer) == ("self_hosted", "managed"))
    assert crossing.daily_tokens == recommendation.break_even_daily_tokens


def test_volumes_are_log_spaced_around_the_profile_and_include_it() -> None:
    found = volumes(1_000_000, 25)
    assert (found[0], found[-1]) == (10_000, 100_000_000)
    assert 1_000_000 in found
    ratios = [b / a for a, b in itertools.pairwise(found)]
    assert max(ratios) / min(ratios) < 1.01
    assert (volumes(0, 5)[0], volumes(0, 5)[-1]) == (0, 100)
    assert volumes(10**15, 5)[-1] == 10**15


def test_point_counts_outside_the_bounds_are_refused(advisor: Advisor) -> None:
    evaluation = advisor.evaluate(make_profile())
    for points in (2, MAX_POINTS + 1):
        with pytest.raises(ValueError, match="points"):
            volume_curve(evaluation, points)


def test_todays_rules_that_change_prices_or_the_decision_do_not_read_volume(advisor: Advisor) -> None:
    assert volume_dependent_rules(advisor.rulebook) == ()


def test_a_volume_dependent_rule_is_fired_again_at_every_point(advisor: Advisor) -> None:
    """A rule that excludes the managed API below 5M tokens/day: the curve must see it switch on and off."""
    rule = Rule(id="TST-SMALL-VOLUME", title="No managed API below 5M", category="checklist", encodes="test",
                quote="test", rationale="test", effect="exclude", options=("managed",),
                when={"daily_tokens": {"lt": 5_000_000}})
    rulebook = Rulebook(rules=(*advisor.rulebook.rules, rule), digest="sha256:test")
    assert volume_dependent_rules(rulebook) == ("TST-SMALL-VOLUME",)
    changed = Advisor(rulebook, RuleEngine(rulebook), advisor.catalogs, advisor.default_catalog, advisor.regions)
    profile = make_profile(workload={"daily_tokens": 50_000_000, "simple_task_share": 0.6},
                           team={"ml_infra_engineers": 2})
    curve = volume_curve(changed.evaluate(profile), 9, at=lambda v: changed.evaluate(_at(profile, v)))
    assert not curve.rules_fired_once
    for point in curve.points:
        assert point.decision == changed.assess(_at(profile, point.daily_tokens)).decision
    for change in curve.decision_changes:
        assert decision_at(changed.evaluate(_at(profile, change.daily_tokens - 1)), change.daily_tokens - 1) \
            == change.before
        assert changed.assess(_at(profile, change.daily_tokens)).decision == change.after
    assert any(c.daily_tokens == 5_000_000 for c in curve.decision_changes)
