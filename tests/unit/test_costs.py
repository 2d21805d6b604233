"""The capacity-based TCO model and the break-even volume, on the real catalogs."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from advisor.costs.assumptions import Resolved
from advisor.costs.breakeven import break_even
from advisor.costs.model import OptionPrice, PricingRun
from advisor.domain.profile import OPTION_NAMES
from advisor.service import Advisor
from tests.factories import make_profile

ARTICLE_ROWS = [  # tokens/day, managed $/month, self-hosted $/month (the article's table)
    (100_000, 90, 800),
    (1_000_000, 900, 1_200),
    (5_000_000, 4_500, 2_500),
    (50_000_000, 45_000, 12_000),
]


def run_for(advisor: Advisor, **parts: Any) -> PricingRun:
    profile = make_profile(**parts)
    return PricingRun(profile, Resolved(advisor.catalog_for(profile), profile))


def line(price: OptionPrice, category: str) -> Decimal:
    return sum((i.monthly_usd for i in price.line_items if i.category == category), Decimal(0))


@pytest.mark.parametrize(("tokens", "managed", "self_hosted"), ARTICLE_ROWS)
def test_article_preset_reproduces_the_article_table(advisor: Advisor, tokens: int, managed: int,
                                                     self_hosted: int) -> None:
    run = run_for(advisor, workload={"daily_tokens": tokens}, team={"ml_infra_engineers": 1},
                  assumptions={"catalog": "article-2026-05"})
    managed_price = run.price("managed", [], [])
    self_price = run.price("self_hosted", ["ops_overhead_monthly_usd"], [])
    # Staffing excluded, as the article does.
    assert line(managed_price, "managed_tokens") == pytest.approx(Decimal(managed), rel=Decimal("0.05"))
    non_staff = (self_price.monthly_usd or Decimal(0)) - line(self_price, "staffing")
    assert non_staff == pytest.approx(Decimal(self_hosted), rel=Decimal("0.05"))


def test_sourced_managed_price_is_blended_from_input_and_output(advisor: Advisor) -> None:
    run = run_for(advisor, workload={"daily_tokens": 1_000_000, "capability": "frontier", "output_share": 0.5})
    model = run.managed_model("frontier")
    assert model is not None
    expected = (model.input_per_1m + model.output_per_1m) / 2 * 30  # 30M tokens/month, half output
    assert line(run.price("managed", [], []), "managed_tokens") == expected.quantize(Decimal("0.01"))


def test_residency_limits_managed_models_to_the_regions(advisor: Advisor) -> None:
    run = run_for(advisor, compliance={"data_residency": ["eu"]})
    assert run.managed_candidates("mid")
    assert all("eu" in m.regions for m in run.managed_candidates("mid"))
    assert run_for(advisor, compliance={"data_residency": ["cn"]}).managed_model("mid") is None


def test_replicas_follow_peak_load_and_redundancy(advisor: Advisor) -> None:
    # 50M tokens/day at peak 3 = 1,736 tokens/s; the 70B FP8 node serves 8,958 x 40% = 3,583.
    run = run_for(advisor, workload={"daily_tokens": 50_000_000}, team={"ml_infra_engineers": 2})
    sizing = run.size("mid", Decimal(50_000_000), "gpu_compute")
    assert sizing is not None
    assert sizing.replicas == 2
    assert sizing.spare == 1
    bigger = run.size("mid", Decimal(500_000_000), "gpu_compute")
    assert bigger is not None
    assert bigger.replicas > sizing.replicas
    no_spare = run_for(advisor, workload={"daily_tokens": 50_000_000}, assumptions={"redundancy": 0})
    only = no_spare.size("mid", Decimal(50_000_000), "gpu_compute")
    assert only is not None
    assert only.replicas == 1


def test_a_model_that_does_not_fit_in_gpu_memory_is_never_chosen(advisor: Advisor) -> None:
    run = run_for(advisor)
    misfit = next(d for d in run.catalog.deployments if d.id == "llama-3.3-70b-fp8-g5.xlarge")
    assert not run.fits(misfit, run.catalog.instance(misfit.instance))
    sizing = run.size("mid", Decimal(1_000_000), "gpu_compute")
    assert sizing is not None
    assert sizing.deployment.id != misfit.id


def test_reserved_and_on_prem_pricing_apply_their_factors(advisor: Advisor) -> None:
    base = run_for(advisor).size("mid", Decimal(1_000_000), "x")
    reserved_run = run_for(advisor, infrastructure={"gpu_procurement": "cloud_reserved"})
    reserved = reserved_run.size("mid", Decimal(1_000_000), "x")
    assert base is not None
    assert reserved is not None
    assert reserved.monthly_usd == (base.monthly_usd * Decimal("0.6")).quantize(Decimal("0.01"))
    assert "reserved discount" in reserved.line.basis


def test_incremental_staffing_counts_only_new_hires(advisor: Advisor) -> None:
    full = run_for(advisor, team={"ml_infra_engineers": 1}).staffing_line("fte_self_hosted")
    incremental = run_for(advisor, team={"ml_infra_engineers": 1},
                          assumptions={"staffing": "incremental"}).staffing_line("fte_self_hosted")
    assert full.monthly_usd == Decimal("24916.67")  # 1 FTE x $230k x 1.3 / 12
    assert incremental.monthly_usd == 0


def test_overrides_replace_catalog_assumptions_and_are_labelled(advisor: Advisor) -> None:
    run = run_for(advisor, assumptions={"overrides": {"engineer_annual_usd": 120000.0}})
    staffing = run.staffing_line("fte_self_hosted")
    assert staffing.monthly_usd == Decimal("13000.00")
    assert any(ref.entry == "profile.assumptions.engineer_annual_usd" and ref.assumption for ref in staffing.inputs)


@given(tokens=st.integers(0, 10**10), share=st.floats(0, 1), peak=st.floats(1, 20),
       capability=st.sampled_from(["small", "mid", "frontier"]))
@settings(max_examples=60, deadline=None)
def test_line_items_always_sum_to_the_total(advisor: Advisor, tokens: int, share: float, peak: float,
                                            capability: str) -> None:
    profile_run = run_for(advisor, workload={"daily_tokens": tokens, "simple_task_share": share,
                                             "peak_to_average": peak, "capability": capability})
    for option in OPTION_NAMES:
        price = profile_run.price(option, ["integration_monthly_usd"], ["weeks_hiring"])
        if price.unavailable_reason is None:
            assert price.monthly_usd == sum(i.monthly_usd for i in price.line_items)
            assert all(i.monthly_usd >= 0 for i in price.line_items)


def _totals(advisor: Advisor, tokens: int, **parts: Any) -> tuple[Decimal, Decimal]:
    run = run_for(advisor, workload={"daily_tokens": tokens, **parts.pop("workload", {})}, **parts)
    managed = run.price("managed", ["integration_monthly_usd"], []).monthly_usd
    self_hosted = run.price("self_hosted", ["ops_overhead_monthly_usd"], []).monthly_usd
    assert managed is not None
    assert self_hosted is not None
    return managed, self_hosted


@pytest.mark.parametrize(("catalog", "capability"),
                         [("article-2026-05", "mid"), ("article-2026-05", "frontier"), ("sourced-2026-11", "frontier")])
def test_break_even_is_where_self_hosting_first_costs_no_more(advisor: Advisor, catalog: str,
                                                              capability: str) -> None:
    parts: dict[str, Any] = {"team": {"ml_infra_engineers": 1},
                             "assumptions": {"catalog": catalog, "staffing": "incremental"},
                             "workload": {"capability": capability}}
    run = run_for(advisor, **parts)
    managed = run.price("managed", ["integration_monthly_usd"], [])
    self_hosted = run.price("self_hosted", ["ops_overhead_monthly_usd"], [])
    fixed_m = sum((i.monthly_usd for i in managed.line_items if i.category != "managed_tokens"), Decimal(0))
    fixed_s = sum((i.monthly_usd for i in self_hosted.line_items if i.category != "gpu_compute"), Decimal(0))
    result = break_even(run, fixed_m, fixed_s)
    assert result.daily_tokens is not None, result.basis
    at_m, at_s = _totals(advisor, result.daily_tokens, **parts)
    assert at_s <= at_m + Decimal("0.01")
    if result.daily_tokens > 0:
        below_m, below_s = _totals(advisor, result.daily_tokens - 1, **parts)
        assert below_s > below_m - Decimal("0.01")


def test_break_even_is_null_with_a_reason_when_self_hosting_never_wins(advisor: Advisor) -> None:
    run = run_for(advisor)  # mid capability: hosted 70B APIs cost less per token than our own GPUs
    result = break_even(run, Decimal(2250), Decimal(25416))
    assert result.daily_tokens is None
    assert result.basis.startswith("never")
