"""The capacity model against the published points it is built from."""

from __future__ import annotations

from decimal import Decimal

import pytest

from advisor.application.evaluate import Advisor
from advisor.costs.capacity import at_mix, capacity
from advisor.costs.catalog import Deployment, ServingPoint


def deployments(advisor: Advisor) -> list[Deployment]:
    return list(advisor.catalogs["sourced-2026-12"].data.deployments)


def test_every_published_mix_is_reproduced_at_its_own_output_share(advisor: Advisor) -> None:
    """At a point's own input/output mix the model returns that mix's best point exactly."""
    checked = 0
    for d in deployments(advisor):
        latency_bound = [p for p in d.points if not p.offline_max] or list(d.points)
        for p in latency_bound:
            best = max(q.total_tok_s for q in latency_bound if (q.isl, q.osl) == (p.isl, p.osl))
            same_share = [q for q in latency_bound if q.output_share == p.output_share]
            if len({(q.isl, q.osl) for q in same_share}) > 1:
                continue  # two lengths with one share: the model takes the slower, by design
            tok_s, _, _ = at_mix(latency_bound, p.output_share)
            assert tok_s == best, (d.id, p.isl, p.osl)
            checked += 1
    assert checked >= 10


def point(isl: int, osl: int, tok_s: str, ttft: str | None = None) -> ServingPoint:
    return ServingPoint(isl=isl, osl=osl, total_tok_s=Decimal(tok_s), ttft_ms=None if ttft is None else Decimal(ttft),
                        source="test", as_of="2026-12-02")


def test_between_two_mixes_time_per_token_is_interpolated_linearly() -> None:
    prefill_heavy, decode_heavy = point(900, 100, "10000"), point(100, 900, "2000")
    tok_s, basis, used = at_mix([prefill_heavy, decode_heavy], Decimal("0.5"))
    # 1/T = (1-s) a + s b with a, b fitted through both points; at s = 0.5 it is their harmonic midpoint.
    a_time, b_time = Decimal(1) / 10000, Decimal(1) / 2000
    assert tok_s == pytest.approx(1 / ((a_time + b_time) / 2), rel=Decimal("0.0001"))
    assert len(used) == 2
    assert "interpolated" in basis


def test_outside_the_published_mixes_the_nearest_is_used_as_is() -> None:
    tok_s, basis, _ = at_mix([point(100, 100, "5000"), point(1000, 100, "9000")], Decimal("0.9"))
    assert tok_s == Decimal(5000)
    assert "nearest" in basis


def test_a_latency_target_sizes_at_a_point_that_meets_it_or_says_it_is_not_met() -> None:
    d = Deployment(id="d", model="m", capabilities=("small",), precision="fp8", engine="e", gpu="G", gpus=1,
                   weights_gb=Decimal(16), memory_source="s", as_of="x",
                   points=(point(128, 128, "400", "15"), point(128, 128, "18000", "155"),
                           point(128, 128, "33000", "1900")))
    fast = capacity(d, Decimal("0.5"), 200)
    assert fast is not None
    assert fast.latency_met is True
    assert fast.tok_s == Decimal(18000)
    none = capacity(d, Decimal("0.5"), 10)
    assert none is not None
    assert none.latency_met is False
    assert "not met" in none.latency_evidence
    free = capacity(d, Decimal("0.5"), None)
    assert free is not None
    assert free.tok_s == Decimal(33000)
    assert free.latency_met is None


def test_qwen3_8b_on_h100_reproduces_the_silybench_slo_points(advisor: Advisor) -> None:
    d = next(x for x in deployments(advisor) if x.id == "qwen3-8b-fp8-h100x1")
    slo = max(p.total_tok_s for p in d.points if (p.isl, p.osl) == (2048, 2048))
    cap = capacity(d, Decimal("0.5"), None)
    assert cap is not None
    assert cap.tok_s == slo
