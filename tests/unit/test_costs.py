"""The TCO model on the real catalogs: managed levers, capacity, placement, staffing, hybrid variants."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from advisor.application.evaluate import Advisor
from advisor.costs.breakeven import break_even
from advisor.costs.model import OptionPrice, PricingRun
from tests.factories import make_profile

ARTICLE_ROWS = [  # tokens/day, managed $/month, self-hosted $/month (the article's table)
    (100_000, 90, 800),
    (1_000_000, 900, 1_200),
    (5_000_000, 4_500, 2_500),
    (50_000_000, 45_000, 12_000),
]


def run_for(advisor: Advisor, **parts: Any) -> PricingRun:
    """A pricing run with the line items and exclusions the profile's rules attach (as assess does)."""
    return advisor.evaluate(make_profile(**parts)).run


def at(run: PricingRun, option: str, volume: int | None = None) -> OptionPrice:
    return run.price(option, Decimal(run.profile.workload.daily_tokens if volume is None else volume))  # type: ignore[arg-type]


def line(price: OptionPrice, category: str) -> Decimal:
    return sum((i.monthly_usd for i in price.line_items if i.category == category), Decimal(0))


@pytest.mark.parametrize(("tokens", "managed", "self_hosted"), ARTICLE_ROWS)
def test_article_preset_reproduces_the_article_table(advisor: Advisor, tokens: int, managed: int,
                                                     self_hosted: int) -> None:
    run = run_for(advisor, workload={"daily_tokens": tokens}, team={"ml_infra_engineers": 1},
                  assumptions={"catalog": "article-2026-05"})
    assert line(at(run, "managed"), "managed_tokens") == Decimal(managed)
    assert line(at(run, "self_hosted"), "gpu_compute") == pytest.approx(Decimal(self_hosted), rel=Decimal("0.001"))


def test_cache_and_batch_shares_lower_the_managed_price_with_the_offerings_own_prices(advisor: Advisor) -> None:
    plain = run_for(advisor, workload={"daily_tokens": 10**8, "current_model": "openai/gpt-6.2-sol"})
    levers = run_for(advisor, workload={"daily_tokens": 10**8, "current_model": "openai/gpt-6.2-sol",
                                        "cached_input_share": 0.5, "batch_share": 0.5})
    offering = plain.main.offering
    assert offering is not None
    assert offering.cached_input_per_1m is not None
    assert offering.batch_input_per_1m is not None
    assert offering.batch_output_per_1m is not None
    # 0.5 live (75% input: half list, half cache read; 25% output) + 0.5 batch (75% in, 25% out at batch prices)
    live_input = (offering.input_per_1m + offering.cached_input_per_1m) / 2
    live = Decimal("0.75") * live_input + Decimal("0.25") * offering.output_per_1m
    batch = Decimal("0.75") * offering.batch_input_per_1m + Decimal("0.25") * offering.batch_output_per_1m
    assert levers.managed.blended(offering) == (live + batch) / 2
    assert line(at(levers, "managed"), "managed_tokens") < line(at(plain, "managed"), "managed_tokens")


def test_current_model_changes_the_comparator(advisor: Advisor) -> None:
    default = run_for(advisor, workload={"capability": "frontier"})
    claude = run_for(advisor, workload={"capability": "frontier", "current_model": "claude-opus-5.5"})
    assert claude.main.offering is not None
    assert claude.main.offering.model == "claude-opus-5.5"
    assert default.main.offering is not None
    assert not default.main.offering.open_weights
    assert default.main.offering.model != "claude-opus-5.5" or default.main.offering == claude.main.offering


def test_preferred_providers_pick_their_cheapest_of_the_tier(advisor: Advisor) -> None:
    run = run_for(advisor, workload={"capability": "mid", "preferred_providers": ["anthropic"]})
    assert run.main.offering is not None
    assert run.main.offering.provider == "anthropic"


def test_default_comparator_is_closed_weight_and_lists_a_hosted_open_model_beside_it(advisor: Advisor) -> None:
    run = run_for(advisor, workload={"capability": "frontier", "daily_tokens": 10**8})
    price = at(run, "managed")
    assert run.main.offering is not None
    assert not run.main.offering.open_weights
    assert 1 <= len(price.alternatives) <= 2
    assert any(a.open_weights for a in price.alternatives)


def test_residency_filters_both_sides_and_names_where_each_runs(advisor: Advisor) -> None:
    run = run_for(advisor, workload={"daily_tokens": 10**9}, team={"ml_infra_engineers": 2},
                  compliance={"data_residency": ["eu"]})
    managed, hosted = at(run, "managed"), at(run, "self_hosted")
    assert managed.region is not None
    assert all(advisor.regions.within(r, "eu") for r in managed.region.split(","))
    assert hosted.region is not None
    assert advisor.regions.within(hosted.region, "eu")


def test_air_gapped_runs_on_owned_servers_priced_from_capex_and_power(advisor: Advisor) -> None:
    run = run_for(advisor, workload={"daily_tokens": 10**8, "capability": "frontier"}, team={"ml_infra_engineers": 3},
                  compliance={"air_gapped": True})
    price = at(run, "self_hosted")
    assert price.region == "on_prem"
    gpu = next(i for i in price.line_items if i.category == "gpu_compute")
    assert gpu.source.entry.startswith("on_prem_servers.")
    assert "kW x PUE" in gpu.basis
    assert "colocation" in gpu.basis
    assert "server(s), 8 x" in price.configuration


def test_capacity_uses_the_output_share(advisor: Advisor) -> None:
    chatty = run_for(advisor, workload={"daily_tokens": 10**9, "capability": "small", "output_share": 0.05},
                     team={"ml_infra_engineers": 1})
    decode = run_for(advisor, workload={"daily_tokens": 10**9, "capability": "small", "output_share": 0.5},
                     team={"ml_infra_engineers": 1})
    qwen = "qwen3-8b-fp8-h100x1"
    a = min(chatty.sizer.replica_tok_s(p) for p in chatty.sizer.plans("small") if p.deployment.id == qwen)
    b = min(decode.sizer.replica_tok_s(p) for p in decode.sizer.plans("small") if p.deployment.id == qwen)
    assert a != b


def test_staffing_rises_with_the_fleet_and_24x7_needs_an_on_call_rotation(advisor: Advisor) -> None:
    parts: dict[str, Any] = {"workload": {"capability": "mid"}, "team": {"ml_infra_engineers": 1}}
    small = run_for(advisor, **{**parts, "workload": {"capability": "mid", "daily_tokens": 10**7}})
    large = run_for(advisor, **{**parts, "workload": {"capability": "mid", "daily_tokens": 10**11}})
    office = run_for(advisor, **{**parts, "workload": {"capability": "mid", "daily_tokens": 10**7,
                                                       "availability": "business_hours"}})
    assert line(at(large, "self_hosted"), "staffing") > line(at(small, "self_hosted"), "staffing")
    assert line(at(office, "self_hosted"), "staffing") < line(at(small, "self_hosted"), "staffing")
    assert "on-call minimum for 24x7" in next(i.basis for i in at(small, "self_hosted").line_items
                                              if i.category == "staffing")


def test_integration_is_charged_to_every_option(advisor: Advisor) -> None:
    run = run_for(advisor, workload={"daily_tokens": 10**8, "simple_task_share": 0.5}, team={"ml_infra_engineers": 1})
    for option in ("managed", "self_hosted", "hybrid"):
        assert line(at(run, option), "integration") > 0, option
    assert line(at(run, "self_hosted"), "lock_in_remediation") == 0


def test_api_to_api_hybrid_has_no_gpus_and_no_staff(advisor: Advisor) -> None:
    run = run_for(advisor, workload={"daily_tokens": 2 * 10**8, "capability": "frontier", "simple_task_share": 0.7},
                  team={"ml_infra_engineers": 0, "can_hire": False})
    price = at(run, "hybrid")
    assert price.variant == "managed_small"
    assert {i.category for i in price.line_items} == {"managed_tokens", "integration", "lock_in_remediation",
                                                       "routing_layer"}
    single = at(run, "managed").monthly_usd
    assert price.monthly_usd is not None
    assert single is not None
    assert price.monthly_usd < single * Decimal("0.5")


def test_a_tier_without_a_fitting_deployment_is_unavailable_with_the_reason(advisor: Advisor) -> None:
    run = run_for(advisor, workload={"capability": "frontier"}, compliance={"data_residency": ["ca"]})
    price = at(run, "self_hosted")
    assert price.monthly_usd is None
    assert price.unavailable_reason
    assert "frontier" in price.unavailable_reason


def test_break_even_is_null_with_a_reason_for_a_tiny_small_model_workload(advisor: Advisor) -> None:
    run = run_for(advisor, workload={"daily_tokens": 100_000, "capability": "small"}, team={"ml_infra_engineers": 1},
                  assumptions={"staffing": "incremental"})
    even = break_even(run)
    assert even.daily_tokens is None
    assert even.basis


def test_break_even_is_where_self_hosting_stays_cheaper(advisor: Advisor) -> None:
    run = run_for(advisor, workload={"capability": "frontier"}, team={"ml_infra_engineers": 1})
    even = break_even(run)
    assert even.daily_tokens is not None
    for factor in ("1", "1.3", "2", "10", "1000"):
        v = Decimal(even.daily_tokens) * Decimal(factor)
        sh, m = run.cost("self_hosted", v), run.cost("managed", v)
        assert sh is not None
        assert m is not None
        assert sh <= m
    below = Decimal(even.daily_tokens) * Decimal("0.8")
    sh, m = run.cost("self_hosted", below), run.cost("managed", below)
    assert sh is not None
    assert m is not None
    assert sh > m
