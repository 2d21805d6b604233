"""What-if: shocks reach the model as the sensitivity machinery applies them; every flip point is checked
against full assessments on both sides of it."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec
import pytest

from advisor.analysis.curve import settled
from advisor.analysis.service import ENGINEER, Analysis
from advisor.analysis.what_if import HIGHEST, LOWEST, Flip, Shocks, WhatIf
from advisor.costs.assumptions import Resolved
from advisor.costs.crossing import GRID
from advisor.domain.profile import OPTION_NAMES, OptionName, Profile
from advisor.domain.recommendation import Recommendation
from advisor.service import Advisor, ProfileError
from tests.factories import make_profile

PROFILES: dict[str, dict[str, Any]] = {
    "mid volume, two engineers": {"workload": {"daily_tokens": 50_000_000, "simple_task_share": 0.6},
                                  "team": {"ml_infra_engineers": 2}},
    "frontier at scale": {"workload": {"daily_tokens": 400_000_000, "capability": "frontier"},
                          "team": {"ml_infra_engineers": 3}},
    "small start-up": {"workload": {"daily_tokens": 3_000_000}, "team": {"ml_infra_engineers": 2}},
}
SHOCKS = [Shocks(), Shocks(managed_price=-0.2), Shocks(gpu_price=0.3, engineer_cost=-0.1, daily_tokens=2.0)]
# The search brackets a flip to 0.4 percentage points and rounds outward by at most 0.1: a point 0.6 points
# nearer the scenario must still give the scenario's answer.
INSIDE = Decimal("0.006")


@pytest.fixture(scope="module")
def analysis(advisor: Advisor) -> Analysis:
    return Analysis(advisor)


def _engineer(advisor: Advisor, profile: Profile) -> Decimal:
    return Resolved(advisor.catalog_for(profile), profile).value(ENGINEER)


def _assess_moved(analysis: Analysis, profile: Profile, shocks: Shocks, flip: Flip, at: Decimal) -> Recommendation:
    """A full assessment with ``flip.factor`` moved to multiplier ``at`` beyond the shocks."""
    advisor = analysis.advisor
    managed, gpu = Decimal(1) + Decimal(repr(shocks.managed_price)), Decimal(1) + Decimal(repr(shocks.gpu_price))
    shocked = analysis.shocked_profile(profile, shocks)
    if flip.factor == "managed_price":
        return advisor.assess(shocked, managed_factor=managed * at, gpu_factor=gpu)
    if flip.factor == "gpu_price":
        return advisor.assess(shocked, managed_factor=managed, gpu_factor=gpu * at)
    if flip.factor == "engineer_cost":
        value = float((_engineer(advisor, shocked) * at).quantize(Decimal("0.01")))
        moved = msgspec.structs.replace(shocked, assumptions=msgspec.structs.replace(
            shocked.assumptions, overrides={**shocked.assumptions.overrides, ENGINEER: value}))
        return advisor.assess(moved, managed_factor=managed, gpu_factor=gpu)
    volume = int(Decimal(shocked.workload.daily_tokens) * at)
    return advisor.assess(msgspec.structs.replace(shocked, workload=msgspec.structs.replace(
        shocked.workload, daily_tokens=volume)), managed_factor=managed, gpu_factor=gpu)


@pytest.mark.parametrize("shocks", SHOCKS, ids=["none", "managed -20%", "mixed"])
@pytest.mark.parametrize("name", sorted(PROFILES))
def test_every_flip_point_flips_and_just_inside_it_does_not(analysis: Analysis, name: str, shocks: Shocks) -> None:
    profile = make_profile(**PROFILES[name])
    result = analysis.what_if(profile, shocks)
    start = result.recommendation.decision
    assert len(result.flips) == 8
    if name != "small start-up":  # these two sit near a break-even: something flips them within the window
        assert any(flip.change is not None for flip in result.flips)
    for flip in result.flips:
        if flip.change is None:
            # No flip claimed: the window's far end gives the same answer.
            end = HIGHEST if flip.direction == "up" else LOWEST
            if flip.factor != "engineer_cost":  # its window may be narrowed to the assumption's range
                assert _assess_moved(analysis, profile, shocks, flip, end).decision == start, flip
            continue
        at = flip.change if flip.factor == "daily_tokens" else flip.change + 1
        assert (at > 1) == (flip.direction == "up")
        assert _assess_moved(analysis, profile, shocks, flip, at).decision == flip.flips_to != start, flip
        inside = at - INSIDE if flip.direction == "up" else at + INSIDE
        if flip.factor == "daily_tokens":
            inside = at * (1 - INSIDE) if flip.direction == "up" else at * (1 + INSIDE)
        assert _assess_moved(analysis, profile, shocks, flip, inside).decision == start, flip


def test_the_shocked_recommendation_carries_the_scaled_volume_and_priced_factors(analysis: Analysis) -> None:
    profile = make_profile(**PROFILES["mid volume, two engineers"])
    result = analysis.what_if(profile, Shocks(gpu_price=0.5, engineer_cost=0.1, daily_tokens=3.0))
    recommendation = result.recommendation
    assert recommendation.profile.workload.daily_tokens == 150_000_000
    assert recommendation.profile.assumptions.overrides[ENGINEER] == pytest.approx(230_000 * 1.1)
    gpu_lines = [i for o in OPTION_NAMES for i in recommendation.options.get(o).line_items
                 if i.category.startswith("gpu_compute")]
    assert gpu_lines
    assert all("x 1.5 GPU price factor" in line.basis for line in gpu_lines)
    own = next(p for p in result.curve.points if p.profile)
    assert own.decision == recommendation.decision
    assert own.daily_tokens == 150_000_000


def test_what_if_results_encode_to_json(analysis: Analysis) -> None:
    result = analysis.what_if(make_profile(**PROFILES["small start-up"]), Shocks(managed_price=1.0))
    again = msgspec.json.decode(msgspec.json.encode(result), type=WhatIf)
    assert again.flips == result.flips


def test_an_engineer_shock_outside_the_assumptions_range_names_the_shock(analysis: Analysis) -> None:
    profile = make_profile(assumptions={"overrides": {ENGINEER: 4_000_000}})
    with pytest.raises(ProfileError) as caught:
        analysis.what_if(profile, Shocks(engineer_cost=1.0))
    assert caught.value.field == "shocks.engineer_cost"


def test_a_volume_shock_past_the_largest_volume_names_the_shock(analysis: Analysis) -> None:
    profile = make_profile(workload={"daily_tokens": 10**15})
    with pytest.raises(ProfileError) as caught:
        analysis.what_if(profile, Shocks(daily_tokens=2.0))
    assert (caught.value.field, caught.value.status) == ("shocks.daily_tokens", 400)


def test_shocks_outside_their_ranges_are_refused() -> None:
    for body in ({"managed_price": -0.95}, {"gpu_price": 9.5}, {"engineer_cost": -1}, {"daily_tokens": 0},
                 {"daily_tokens": 11}, {"wind": 1}):
        with pytest.raises(msgspec.ValidationError):
            msgspec.convert(body, Shocks)


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_settled_is_the_crossing_search_compared_with_the_volume(advisor: Advisor, name: str) -> None:
    """The shortcut the flip search uses gives what the crossing search does, at every grid volume and
    just around each crossing."""
    run, _ = advisor.evaluate(make_profile(**PROFILES[name]))
    pairs: tuple[tuple[OptionName, OptionName], ...] = (("self_hosted", "managed"), ("hybrid", "managed"),
                                                         ("self_hosted", "hybrid"))
    for riskier, safer in pairs:
        for factor in (Decimal(1), Decimal("0.9")):
            at = run.sustained(riskier, safer, factor)
            volumes = {int(g) for g in GRID[::4]} | ({at - 1, at, at + 1} - {-1} if at is not None else set())
            for volume in sorted(volumes):
                assert settled(run, riskier, safer, factor, volume) == (at is not None and at <= volume), volume
