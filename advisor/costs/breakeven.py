"""Break-even volume: the daily tokens at which self-hosting's TCO meets the managed TCO.

Everything but the volume stays as in the profile. Managed cost is linear in volume
(fixed overheads + tokens x blended price); self-hosted cost is a staircase (fixed costs +
replicas x replica cost), so the crossing is solved per deployment in closed form rather
than by scanning volumes.
"""

from __future__ import annotations

import math
from decimal import Decimal

import msgspec

from advisor.costs.model import MILLION, SECONDS_PER_DAY, PricingRun, cents, num, rate, usd


class BreakEven(msgspec.Struct, frozen=True, kw_only=True):
    daily_tokens: int | None
    basis: str


def break_even(run: PricingRun, managed_fixed: Decimal, self_fixed: Decimal) -> BreakEven:
    """Smallest daily volume V with self_hosted(V) <= managed(V), or why there is none.

    ``managed_fixed`` and ``self_fixed`` are the options' volume-independent monthly costs
    (overheads, staffing) exactly as priced for this profile.
    """
    profile = run.profile
    capability = profile.workload.capability
    model = run.managed_model(capability)
    if model is None:
        return BreakEven(daily_tokens=None, basis="no managed model is available to compare with")
    per_token_month = run.blended_per_1m(model) * run.days / MILLION  # $ per (token/day) per month
    if per_token_month == 0:
        return BreakEven(daily_tokens=None, basis=f"{model.id} is priced at zero")
    factor, _, _ = run.price_factor()
    spare = int(run.a.value("redundancy_spare_replicas"))
    util = run.a.value("utilisation_target")
    peak_ratio = Decimal(repr(profile.workload.peak_to_average))
    best: tuple[int, str] | None = None
    cheapest_marginal: Decimal | None = None
    for d, instance in run.deployments_for(capability):
        replica_month = instance.hourly_usd * factor * run.hours
        tokens_per_replica = d.throughput_tok_s * util * SECONDS_PER_DAY / peak_ratio  # tokens/day
        marginal = replica_month / tokens_per_replica / run.days * MILLION  # $ per 1M tokens
        cheapest_marginal = marginal if cheapest_marginal is None else min(cheapest_marginal, marginal)
        # k needed replicas serve ((k-1)u, ku] at S + (k+spare)r; managed costs M + pV. So
        # self <= managed needs V >= H + k*r/p with H = (S + spare*r - M)/p, and such a V lies in
        # the interval iff H <= k*g with g = u - r/p: the smallest such k gives the crossing.
        step = replica_month / per_token_month
        head = (self_fixed + spare * replica_month - managed_fixed) / per_token_month
        gap = tokens_per_replica - step
        if head <= gap:
            k = 1
        elif gap <= 0:
            continue  # every extra replica costs more than the managed tokens it replaces
        else:
            k = math.ceil(head / gap)
        volume = max(Decimal(0), head + k * step)
        v = math.ceil(volume)
        if best is None or v < best[0]:
            best = (v, f"{d.id}: {k} + {spare} replica(s) of {instance.id}")
    if best is None:
        marginal_text = rate(cents(cheapest_marginal)) if cheapest_marginal is not None else "n/a"
        return BreakEven(
            daily_tokens=None,
            basis=f"never: each added self-hosted replica costs at least {marginal_text} per 1M tokens at the"
            f" utilisation target, more than {model.id} at {rate(run.blended_per_1m(model))}/1M blended",
        )
    return BreakEven(
        daily_tokens=best[0],
        basis=f"self-hosted ({best[1]}) meets managed ({model.id} at {rate(run.blended_per_1m(model))}/1M"
        f" blended) at {num(best[0])} tokens/day, with monthly fixed costs of {usd(self_fixed)} self-hosted"
        f" and {usd(managed_fixed)} managed",
    )
