"""Throughput of one replica for a workload, from the published points of a deployment.

Operators size from measured points, not from a peak figure: the same model serves several
times more tokens per second on short prompts than on long generations. So the capacity is
read at the workload's input/output mix, at a concurrency that meets its latency need:

- Points are filtered by latency first. A need is a p95 time-to-first-token target (for an
  LLM the time until the answer starts; a whole long answer never fits in 50 ms); a point meets
  it when its published TTFT is at or below the target. Offline maxima carry no latency and are
  used only when the deployment has no latency-bound points and no target is set.
- For each published input/output mix the best remaining point counts (equal mixes: the lower,
  i.e. longer sequences, to stay conservative).
- Between the two mixes that bracket the workload's output share, a linear time model is fitted:
  a second of GPU time serves input at ``a`` s/token and output at ``b`` s/token, so
  ``1/T(s) = (1-s) a + s b``; it reproduces each published point exactly. Outside the published
  range the nearest mix is used as is.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from decimal import Decimal

import msgspec

from advisor.costs.catalog import Deployment, ServingPoint


class Capacity(msgspec.Struct, frozen=True, kw_only=True):
    tok_s: Decimal  # input + output tokens/s of one replica at the workload's mix
    basis: str
    points: tuple[ServingPoint, ...]
    latency_met: bool | None
    latency_evidence: str
    upper_bound: bool  # sized on an offline maximum


def _describe(p: ServingPoint) -> str:
    at = f" at concurrency {p.concurrency}" if p.concurrency is not None else ""
    lat = []
    if p.ttft_ms is not None:
        lat.append(f"TTFT {p.ttft_stat or 'stat n/a'} {p.ttft_ms.normalize():f} ms")
    if p.itl_ms is not None:
        lat.append(f"ITL {p.itl_stat or 'stat n/a'} {p.itl_ms.normalize():f} ms")
    lat_text = f" ({', '.join(lat)})" if lat else (" (offline maximum, no latency limit)" if p.offline_max else "")
    return f"{p.isl}/{p.osl} tokens{at}: {p.total_tok_s.normalize():f} tok/s{lat_text} [{p.source}]"


def _best_per_mix(points: Sequence[ServingPoint]) -> list[ServingPoint]:
    by_share: dict[Decimal, list[ServingPoint]] = {}
    by_mix: dict[tuple[int, int], ServingPoint] = {}
    for p in points:
        best = by_mix.get((p.isl, p.osl))
        if best is None or p.total_tok_s > best.total_tok_s:
            by_mix[(p.isl, p.osl)] = p
    for p in by_mix.values():
        by_share.setdefault(p.output_share, []).append(p)
    return sorted((min(group, key=lambda q: q.total_tok_s) for group in by_share.values()),
                  key=lambda q: q.output_share)


def at_mix(points: Sequence[ServingPoint], share: Decimal) -> tuple[Decimal, str, tuple[ServingPoint, ...]]:
    """Tokens/s at output share ``share`` from the best point per mix (see module docstring)."""
    mixes = _best_per_mix(points)
    below = [p for p in mixes if p.output_share <= share]
    above = [p for p in mixes if p.output_share >= share]
    if not below or not above:
        nearest = below[-1] if below else above[0]
        return nearest.total_tok_s, f"nearest published mix {_describe(nearest)}", (nearest,)
    lo, hi = below[-1], above[0]
    if lo.output_share == hi.output_share:
        return lo.total_tok_s, f"published mix {_describe(lo)}", (lo,)
    s1, s2 = lo.output_share, hi.output_share
    t1, t2 = 1 / lo.total_tok_s, 1 / hi.total_tok_s
    # (1-s1) a + s1 b = t1 ; (1-s2) a + s2 b = t2
    det = (1 - s1) * s2 - (1 - s2) * s1
    a = (t1 * s2 - t2 * s1) / det
    b = ((1 - s1) * t2 - (1 - s2) * t1) / det
    if a <= 0 or b <= 0:  # inconsistent points: fall back to the slower of the two
        slower = min((lo, hi), key=lambda q: q.total_tok_s)
        return slower.total_tok_s, f"slower bracketing mix {_describe(slower)}", (slower,)
    tok_s = (1 / ((1 - share) * a + share * b)).quantize(Decimal("0.1"))
    basis = (f"interpolated at output share {share.normalize():f} between {_describe(lo)} and {_describe(hi)}"
             " (linear time per input/output token)")
    return tok_s, basis, (lo, hi)


@functools.lru_cache(maxsize=4096)  # pure; the same deployments are sized for many profiles
def capacity(deployment: Deployment, output_share: Decimal, latency_p95_ms: int | None) -> Capacity | None:
    """One replica's capacity for this workload, or None when the deployment has no usable point."""
    bound = [p for p in deployment.points if not p.offline_max]
    offline = [p for p in deployment.points if p.offline_max]
    if latency_p95_ms is None:
        usable = bound or offline
        if not usable:
            return None
        tok_s, basis, used = at_mix(usable, output_share)
        return Capacity(tok_s=tok_s, basis=basis, points=used, latency_met=None,
                        latency_evidence="no latency target", upper_bound=not bound)
    target = Decimal(latency_p95_ms)
    meeting = [p for p in bound if p.ttft_ms is not None and p.ttft_ms <= target]
    if meeting:
        tok_s, basis, used = at_mix(meeting, output_share)
        worst = max(p.ttft_ms for p in used if p.ttft_ms is not None)
        evidence = (f"met: sized at published points with TTFT {worst.normalize():f} ms <= {latency_p95_ms} ms"
                    f" ({'; '.join(_describe(p) for p in used)})")
        return Capacity(tok_s=tok_s, basis=basis, points=used, latency_met=True, latency_evidence=evidence,
                        upper_bound=False)
    timed = [p for p in bound if p.ttft_ms is not None]
    if not timed:
        usable = bound or offline
        if not usable:
            return None
        tok_s, basis, used = at_mix(usable, output_share)
        return Capacity(tok_s=tok_s, basis=basis, points=used, latency_met=None,
                        latency_evidence="unknown: the catalog has no published latency for this deployment",
                        upper_bound=not bound)
    fastest = min(timed, key=lambda p: (p.ttft_ms, -p.total_tok_s))
    evidence = (f"not met: the fastest published point has TTFT {fastest.ttft_ms} ms > {latency_p95_ms} ms"
                f" ({_describe(fastest)})")
    return Capacity(tok_s=fastest.total_tok_s, basis=f"fastest published point {_describe(fastest)}",
                    points=(fastest,), latency_met=False, latency_evidence=evidence, upper_bound=False)
