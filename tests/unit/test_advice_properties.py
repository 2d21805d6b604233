"""Properties a practitioner checks by sweeping: the advice follows its own numbers, everywhere.

Each property runs over generated profiles (tests/strategies.py) against the real catalogs, rules
and rule engine. Examples are few per property (an assessment searches volumes, ~50 ms), but
Hypothesis keeps the failing ones in its database between runs.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from advisor.application.evaluate import Advisor, ProfileError
from advisor.audit.record import recommendation_bytes
from advisor.domain.decision import RISK_RANK
from advisor.domain.profile import OPTION_NAMES, Profile
from advisor.domain.recommendation import Recommendation
from tests.strategies import profile_bodies

FEW = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
VOLUMES = st.lists(st.integers(0, 10**13), min_size=2, max_size=5, unique=True).map(sorted)


def assess(advisor: Advisor, body: dict[str, Any]) -> Recommendation | None:
    try:
        return advisor.assess(msgspec.convert(body, Profile))
    except ProfileError:
        return None  # nothing allowed and priceable: answered as a 400 naming the cause


def with_volume(body: dict[str, Any], volume: int) -> dict[str, Any]:
    return {**body, "workload": {**body["workload"], "daily_tokens": volume}}


@given(profile_bodies(), VOLUMES)
@FEW
def test_the_decision_is_monotone_in_volume(advisor: Advisor, body: dict[str, Any], volumes: list[int]) -> None:
    """Once self-hosting or hybrid wins, more volume never sends the answer back."""
    ranks = []
    for v in volumes:
        rec = assess(advisor, with_volume(body, v))
        if rec is None:
            return
        ranks.append(RISK_RANK[rec.decision])
    assert ranks == sorted(ranks), list(zip(volumes, ranks, strict=True))


@given(profile_bodies())
@FEW
def test_the_decision_follows_its_own_numbers(advisor: Advisor, body: dict[str, Any]) -> None:
    """The chosen option never costs more than a less risky eligible option, and mandatory needs rules."""
    rec = assess(advisor, body)
    if rec is None:
        return
    chosen = rec.options.get(rec.decision)
    assert chosen.eligible
    assert chosen.monthly_usd is not None
    decisive = any(f.rule_id == "CHK-VALIDATION" for f in rec.findings)
    for option in OPTION_NAMES:
        other = rec.options.get(option)
        if option != rec.decision and other.eligible and RISK_RANK[option] < RISK_RANK[rec.decision]:
            assert (other.monthly_usd is not None and chosen.monthly_usd <= other.monthly_usd) or decisive
    if rec.strength == "mandatory":
        assert all(rec.options.get(o).excluded_by for o in OPTION_NAMES if o != rec.decision)
    for option in OPTION_NAMES:
        assessed = rec.options.get(option)
        if assessed.monthly_usd is not None:
            assert assessed.monthly_usd == sum((i.monthly_usd for i in assessed.line_items), Decimal(0))


@given(profile_bodies())
@FEW
def test_options_run_only_where_they_may(advisor: Advisor, body: dict[str, Any]) -> None:
    rec = assess(advisor, body)
    if rec is None:
        return
    c = rec.profile.compliance
    owned = c.air_gapped or "government" in c.regimes
    for option in OPTION_NAMES:
        o = rec.options.get(option)
        if o.monthly_usd is None or o.region is None:
            continue
        if owned and option == "self_hosted":
            assert o.region == "on_prem"
            assert not any(i.source.entry.startswith("gpu_instances.") for i in o.line_items)
        if o.region in ("on_prem",) or not c.data_residency:
            continue
        assert o.region != "global", f"{option} has no residency commitment"
        for place in o.region.split(","):
            assert advisor.regions.allowed(place, c.data_residency), (option, o.region, c.data_residency)


@given(profile_bodies())
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_same_profile_same_answer(advisor: Advisor, body: dict[str, Any]) -> None:
    first, second = assess(advisor, body), assess(advisor, body)
    if first is None:
        assert second is None
        return
    assert second is not None
    assert recommendation_bytes(first) == recommendation_bytes(second)


@given(profile_bodies(), VOLUMES)
@FEW
def test_costs_are_monotone_in_volume_and_equal_to_their_line_items(advisor: Advisor, body: dict[str, Any],
                                                                     volumes: list[int]) -> None:
    try:
        run = advisor.evaluate(msgspec.convert(body, Profile)).run
    except ProfileError:
        return
    for option in OPTION_NAMES:
        previous: Decimal | None = None
        for v in volumes:
            cost = run.cost(option, Decimal(v))
            assert cost == run.price(option, Decimal(v)).monthly_usd
            if cost is not None and previous is not None:
                assert cost >= previous, (option, v)
            previous = cost


@given(profile_bodies(), st.sampled_from(["1.5", "3"]))
@FEW
def test_costs_are_monotone_in_prices(advisor: Advisor, body: dict[str, Any], factor: str) -> None:
    try:
        run = advisor.evaluate(msgspec.convert(body, Profile)).run
    except ProfileError:
        return
    v, f = Decimal(body["workload"]["daily_tokens"]), Decimal(factor)
    dearer_tokens, dearer_gpus = run.rebuilt(managed_factor=f), run.rebuilt(gpu_factor=f)
    for option in OPTION_NAMES:
        base = run.cost(option, v)
        if base is None:
            continue
        for other in (dearer_tokens, dearer_gpus):
            cost = other.cost(option, v)
            assert cost is not None
            assert cost >= base


@given(profile_bodies(), st.floats(0.05, 0.95))
@FEW
def test_more_utilisation_never_costs_more_and_incremental_staffing_never_more_than_full(
        advisor: Advisor, body: dict[str, Any], utilisation: float) -> None:
    def cost(**assumptions: Any) -> Decimal | None:
        changed = {**body, "assumptions": {**body["assumptions"], **assumptions}}
        try:
            run = advisor.evaluate(msgspec.convert(changed, Profile)).run
        except ProfileError:
            return None
        return run.cost("self_hosted", Decimal(body["workload"]["daily_tokens"]))

    low, high = cost(utilisation_target=utilisation), cost(utilisation_target=min(1.0, utilisation + 0.05))
    if low is not None and high is not None:
        assert high <= low
    full, incremental = cost(staffing="full"), cost(staffing="incremental")
    if full is not None and incremental is not None:
        assert incremental <= full
