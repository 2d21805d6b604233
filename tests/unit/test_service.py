"""The assess use case on any valid profile: a coherent recommendation, or a 400-kind error naming why."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from advisor.application.evaluate import Advisor, ProfileError
from advisor.domain.profile import OPTION_NAMES, Profile
from tests.factories import make_profile
from tests.strategies import profile_bodies


@given(profile_bodies())
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_every_valid_profile_gets_a_coherent_recommendation(advisor: Advisor, body: dict[str, Any]) -> None:
    profile = msgspec.convert(body, Profile)
    try:
        recommendation = advisor.assess(profile)
    except ProfileError:
        with pytest.raises(ProfileError, match="no option is both allowed and priceable"):
            advisor.assess(profile)
        return
    chosen = recommendation.options.get(recommendation.decision)
    assert chosen.eligible
    fired = {f.rule_id for f in recommendation.findings}
    for option in OPTION_NAMES:
        assessed = recommendation.options.get(option)
        assert set(assessed.excluded_by) <= fired
        if assessed.monthly_usd is not None:
            assert assessed.monthly_usd == sum((i.monthly_usd for i in assessed.line_items), Decimal(0))
    for value in (recommendation.break_even_daily_tokens, recommendation.break_even_range.low,
                  recommendation.break_even_range.high):
        assert value is None or 0 <= value <= 2**53  # every integer in a signed record fits JSON's safe range
    assert recommendation.latency


def test_an_unknown_region_code_is_refused_and_points_at_the_region_table(advisor: Advisor) -> None:
    with pytest.raises(ProfileError) as caught:
        advisor.assess(make_profile(compliance={"data_residency": ["eu", "mars"]}))
    assert caught.value.field == "compliance.data_residency[1]"
    assert "GET /regions" in caught.value.message


def test_an_unknown_current_model_is_refused(advisor: Advisor) -> None:
    with pytest.raises(ProfileError) as caught:
        advisor.assess(make_profile(workload={"daily_tokens": 1, "current_model": "gpt-99"}))
    assert caught.value.field == "workload.current_model"


@pytest.mark.parametrize(("key", "value"), [("utilisation_target", 0.0), ("utilisation_target", 1e12),
                                            ("engineer_annual_usd", 1e12), ("reserved_1y_discount", 0.99)])
def test_overrides_outside_their_range_are_refused_naming_the_assumption(advisor: Advisor, key: str,
                                                                        value: float) -> None:
    with pytest.raises(ProfileError) as caught:
        advisor.assess(make_profile(assumptions={"overrides": {key: value}}))
    assert caught.value.field == f"assumptions.overrides.{key}"
    assert "between" in caught.value.message


def test_overrides_are_used_and_labelled_as_the_callers(advisor: Advisor) -> None:
    rec = advisor.assess(make_profile(workload={"daily_tokens": 10**9}, team={"ml_infra_engineers": 1},
                                      assumptions={"overrides": {"engineer_annual_usd": 300000}}))
    staffing = next(i for i in rec.options.self_hosted.line_items if i.category == "staffing")
    assert any(ref.entry == "profile.assumptions.engineer_annual_usd" and ref.assumption for ref in staffing.inputs)
    assert "$300,000.00/yr" in staffing.basis


def test_the_answer_states_the_latency_evidence(advisor: Advisor) -> None:
    rec = advisor.assess(make_profile(workload={"daily_tokens": 10**8, "capability": "small", "latency_p95_ms": 200},
                                      team={"ml_infra_engineers": 2}))
    assert rec.options.self_hosted.latency is not None
    assert rec.options.self_hosted.latency.met is True
    assert "200 ms" in rec.latency


def test_break_even_range_brackets_the_central_figure(advisor: Advisor) -> None:
    rec = advisor.assess(make_profile(workload={"capability": "frontier"}, team={"ml_infra_engineers": 1}))
    low, high, mid = rec.break_even_range.low, rec.break_even_range.high, rec.break_even_daily_tokens
    assert mid is not None
    assert low is not None
    assert low <= mid
    assert high is None or mid <= high
    assert "favourable" in rec.break_even_range.low_basis


def test_sensitivity_names_what_would_flip_the_decision(advisor: Advisor) -> None:
    rec = advisor.assess(make_profile(workload={"daily_tokens": 10**8, "capability": "frontier"},
                                      team={"ml_infra_engineers": 1}))
    factors = {s.factor.split(":")[0] for s in rec.sensitivity}
    assert {"managed_prices", "gpu_prices", "volume"} <= factors


def _assumption_ids() -> list[str]:
    from advisor.costs.catalog import REQUIRED_ASSUMPTIONS

    return sorted(REQUIRED_ASSUMPTIONS)


@given(overrides=st.dictionaries(st.sampled_from(_assumption_ids()),
                                 st.one_of(st.floats(0, 1e12, allow_nan=False),
                                           st.sampled_from([0.0, 5e-324, 1e-9, 1.0, 1e12])), max_size=6),
       volume=st.sampled_from([0, 1, 10**6, 10**12, 10**15]),
       utilisation=st.none() | st.floats(0.05, 1.0))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_extreme_overrides_and_volumes_never_raise_anything_but_a_profile_error(
        advisor: Advisor, overrides: dict[str, float], volume: int, utilisation: float | None) -> None:
    profile = make_profile(workload={"daily_tokens": volume, "capability": "frontier", "simple_task_share": 0.5},
                           team={"ml_infra_engineers": 1},
                           assumptions={"overrides": overrides, "utilisation_target": utilisation})
    refused: ProfileError | None = None
    try:
        recommendation = advisor.assess(profile)
    except ProfileError as exc:
        refused = exc
    if refused is not None:
        assert refused.field.startswith("assumptions.") or "no option" in refused.message
        return
    for value in (recommendation.break_even_daily_tokens, recommendation.break_even_range.low,
                  recommendation.break_even_range.high):
        assert value is None or abs(value) <= 2**53


def _in_range() -> st.SearchStrategy[dict[str, float]]:
    from advisor.costs.catalog import load_catalog
    from advisor.settings import PROJECT_ROOT

    catalog = load_catalog(PROJECT_ROOT / "rules" / "catalogs" / "sourced-2026-12.toml").data
    ranges = {a.id: (float(a.min), float(a.max)) for a in catalog.assumptions}
    return st.lists(st.sampled_from(sorted(ranges)), max_size=8, unique=True).flatmap(
        lambda keys: st.fixed_dictionaries({k: st.floats(*ranges[k]) for k in keys}))


@given(overrides=_in_range(), volume=st.sampled_from([0, 10**4, 10**8, 10**11, 10**15]))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_any_in_range_overrides_give_a_recommendation(advisor: Advisor, overrides: dict[str, float],
                                                      volume: int) -> None:
    profile = make_profile(workload={"daily_tokens": volume, "capability": "mid", "simple_task_share": 0.3},
                           team={"ml_infra_engineers": 1}, assumptions={"overrides": overrides})
    recommendation = advisor.assess(profile)
    assert recommendation.options.get(recommendation.decision).eligible
