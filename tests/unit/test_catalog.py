"""The catalogs are data a review board edits: these checks catch what a careless edit would break."""

from __future__ import annotations

from decimal import Decimal

import pytest

from advisor.application.evaluate import Advisor
from advisor.costs.catalog import (
    Assumption,
    Catalog,
    GpuInstance,
    ManagedOffering,
    OnPremServer,
    Platform,
    decode_catalog,
)

# Plausible ranges for late-2026 prices; a figure outside is a typo (a misplaced decimal point, a monthly
# figure in an hourly field) until someone widens the range with a reason.
TOKEN_PRICE = (Decimal("0.001"), Decimal(200))  # USD per 1M tokens
GPU_HOUR = (Decimal("0.2"), Decimal(20))  # USD per GPU-hour
SERVER_PER_GPU = (Decimal(5_000), Decimal(100_000))  # capital cost per GPU of an owned server


def sourced(advisor: Advisor) -> Catalog:
    return advisor.catalogs["sourced-2026-12"].data


def test_every_entry_names_its_source_and_date(advisor: Advisor) -> None:
    c = sourced(advisor)
    rows: list[Platform | ManagedOffering | GpuInstance | OnPremServer | Assumption] = [
        *c.platforms, *c.managed_offerings, *c.gpu_instances, *c.on_prem_servers, *c.assumptions]
    for row in rows:
        assert row.source.strip(), row.id
        assert row.as_of.strip(), row.id
        assert "unknown" not in row.as_of.lower(), (row.id, row.as_of)
    for d in c.deployments:
        assert d.memory_source.strip(), d.id
        assert d.points, d.id
        for p in d.points:
            assert p.source.strip(), d.id
            assert p.as_of.strip(), d.id
            assert "unknown" not in p.as_of.lower(), d.id


def test_unsourced_figures_say_so(advisor: Advisor) -> None:
    for a in sourced(advisor).assumptions:
        assert a.unsourced == a.source.startswith("UNSOURCED"), a.id


def test_prices_are_plausible(advisor: Advisor) -> None:
    c = sourced(advisor)
    for o in c.managed_offerings:
        for price in (o.input_per_1m, o.output_per_1m):
            assert TOKEN_PRICE[0] <= price <= TOKEN_PRICE[1], (o.id, price)
        for cheaper in (o.cached_input_per_1m, o.batch_input_per_1m):
            assert cheaper is None or cheaper <= o.input_per_1m, o.id
    for i in c.gpu_instances:
        assert GPU_HOUR[0] <= i.hourly_usd / i.gpus <= GPU_HOUR[1], (i.id, i.hourly_usd)
    for s in c.on_prem_servers:
        assert SERVER_PER_GPU[0] <= s.capex_usd / s.gpus <= SERVER_PER_GPU[1], s.id


def test_every_deployment_can_run_somewhere_and_every_instance_serves_a_deployment(advisor: Advisor) -> None:
    c = sourced(advisor)
    units = [(i.gpu, i.gpus) for i in c.gpu_instances] + [(s.gpu, s.gpus) for s in c.on_prem_servers]

    def fits(gpu: str, gpus: int, deployment_gpu: str, deployment_gpus: int) -> bool:
        same = gpu == deployment_gpu
        return same and (gpus % deployment_gpus == 0 or deployment_gpus % gpus == 0 or gpus >= deployment_gpus)

    for d in c.deployments:
        assert any(fits(g, n, d.gpu, d.gpus) for g, n in units), f"{d.id} names a GPU no instance or server has"
    for i in c.gpu_instances:
        assert any(fits(i.gpu, i.gpus, d.gpu, d.gpus) for d in c.deployments), f"{i.id} serves no deployment"


def test_every_tier_has_managed_offerings_and_deployments(advisor: Advisor) -> None:
    c = sourced(advisor)
    for tier in ("small", "mid", "frontier"):
        assert any(o.capability == tier and not o.open_weights for o in c.managed_offerings), tier
        assert any(tier in d.capabilities for d in c.deployments), tier


def test_every_region_code_is_in_the_region_table(advisor: Advisor) -> None:
    c, known = sourced(advisor), advisor.regions.codes()
    used = {r for o in c.managed_offerings for r in o.regions} | {i.region for i in c.gpu_instances}
    assert used <= known, sorted(used - known)


@pytest.mark.parametrize("catalog", ["sourced-2026-12", "article-2026-05"])
def test_assumption_defaults_lie_in_their_bands(advisor: Advisor, catalog: str) -> None:
    for a in advisor.catalogs[catalog].data.assumptions:
        if a.low is not None and a.high is not None:
            assert a.low <= a.value <= a.high, (a.id, a.low, a.value, a.high)


def test_the_same_bytes_decode_once_and_edited_bytes_afresh(advisor: Advisor) -> None:
    """Every app a process builds shares one decode per file content; an edit is never served stale."""
    raw = advisor.catalogs["sourced-2026-12"].raw
    first, again = decode_catalog(raw), decode_catalog(bytes(raw))  # equal bytes, another object
    assert again is first
    edited = raw.replace(b'as_of = "', b'as_of = "edited ', 1)
    changed = decode_catalog(edited)
    assert changed is not first
    assert changed.digest != first.digest
    assert changed.data.catalog.as_of.startswith("edited ")
    broken = raw.replace(b"[[platforms]]", b"[[platform]]", 1)
    for where in ("first.toml", "second.toml"):  # a failure is not kept: each caller hears its own name
        with pytest.raises(ValueError, match=rf"^{where}: "):
            decode_catalog(broken, where)
