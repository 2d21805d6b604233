"""Break-even and sensitivity: the volumes and prices at which the answer would change.

- ``break_even``: the daily volume from which self-hosting is, and stays, cheaper than the
  managed comparator (see ``crossing``); null with the reason where there is none, including
  the case where self-hosting is cheaper only at low volumes.
- ``break_even_range``: the same under the documented assumption bands, one end with every
  band value that favours self-hosting, the other with every value that disfavours it.
- ``flip_factor``: how far one input (managed prices, GPU prices) must move, all else fixed,
  for another option to cost the same as the chosen one at this volume. Costs are linear in
  each factor for a fixed configuration, so it is solved from two evaluations and checked.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

import msgspec

from advisor.costs.crossing import GRID, last_grid_index
from advisor.costs.model import PricingRun
from advisor.costs.money import MILLION, num, rate, usd
from advisor.domain.profile import OptionName
from advisor.domain.recommendation import BreakEvenRange

# Assumptions whose higher band end makes self-hosting cheaper; for every other banded one the lower does.
_HIGH_FAVOURS_SELF_HOSTING: Final = frozenset({"utilisation_target", "reserved_1y_discount", "reserved_3y_discount",
                                               "spot_discount", "onprem_amortisation_months",
                                               "lock_in_remediation_monthly_usd"})


_TENTH_CENT: Final = Decimal("0.0001")


class BreakEven(msgspec.Struct, frozen=True, kw_only=True):
    daily_tokens: int | None
    basis: str


def _marginal(run: PricingRun, option: OptionName) -> Decimal | None:
    """USD per 1M tokens that the last 90% of the largest volumes add (the cost at scale)."""
    hi, lo = GRID[-1], GRID[-1] / 10
    a, b = run.cost(option, hi), run.cost(option, lo)
    if a is None or b is None:
        return None
    return (a - b) / ((hi - lo) * run.assumptions.catalog.catalog.days_per_month / MILLION)


def _last_cheaper(run: PricingRun) -> Decimal | None:
    """The largest grid volume at which self-hosting is cheaper than the managed comparator, if any."""

    def clear(i: int, j: int) -> bool:
        # Both costs grow with volume: self-hosting at the bottom already at least managed at the top rules out i..j.
        s, m = run.cost("self_hosted", GRID[i]), run.cost("managed", GRID[j])
        return s is not None and m is not None and s >= m

    def cheaper(i: int) -> bool:
        s, m = run.cost("self_hosted", GRID[i]), run.cost("managed", GRID[i])
        return s is not None and m is not None and s < m

    index = last_grid_index(len(GRID) - 1, clear, cheaper)
    return None if index is None else GRID[index]


def break_even(run: PricingRun) -> BreakEven:
    volume = Decimal(run.profile.workload.daily_tokens)
    managed, self_hosted = run.cost("managed", volume), run.cost("self_hosted", volume)
    if managed is None or self_hosted is None:
        missing = "a managed offering" if managed is None else "a self-hosted deployment"
        return BreakEven(daily_tokens=None, basis=f"no break-even: the catalog has no {missing} for this profile")
    at = run.sustained("self_hosted", "managed")
    comparator = run.main.offering.id if run.main.offering is not None else "managed"
    if at is None:
        cheaper_below = _last_cheaper(run)
        sh, mg = _marginal(run, "self_hosted"), _marginal(run, "managed")
        scale = ""
        if sh is not None and mg is not None:
            scale = f" (at scale {rate(sh.quantize(_TENTH_CENT))} vs {rate(mg.quantize(_TENTH_CENT))} per 1M tokens)"
        if cheaper_below is not None:
            return BreakEven(daily_tokens=None, basis=(
                f"no break-even: self-hosting is cheaper than {comparator} only below about {num(cheaper_below)}"
                f" tokens/day, because managed fixed overheads exceed its own there, and costs more at every larger"
                f" volume{scale}"))
        return BreakEven(daily_tokens=None, basis=(
            f"never: self-hosting costs more than {comparator} at every volume up to {num(GRID[-1])}"
            f" tokens/day{scale}"))
    at_volume = Decimal(at)
    sh_cost, m_cost = run.cost("self_hosted", at_volume), run.cost("managed", at_volume)
    assert sh_cost is not None
    assert m_cost is not None
    config = run.price("self_hosted", at_volume).configuration.removeprefix("self-hosted: ")
    return BreakEven(daily_tokens=at, basis=(
        f"self-hosting ({config}) is cheaper than {comparator} from {num(at)} tokens/day on, and stays cheaper at"
        f" every larger volume: {usd(sh_cost)} vs {usd(m_cost)} per month there"))


def _relevant(run: PricingRun, assumption_id: str) -> bool:
    """Does this assumption enter this profile's self-hosted or managed price at all?"""
    owned = run.sizer.owned_only or run.profile.infrastructure.gpu_procurement == "on_prem"
    if assumption_id.startswith("onprem_"):
        return owned
    discount = {"reserved_1y_discount": "reserved_1y", "reserved_3y_discount": "reserved_3y", "spot_discount": "spot"}
    if assumption_id in discount:
        return run.sizer.provisioning == discount[assumption_id] and not run.sizer.owned_only
    if assumption_id == "oncall_min_fte":
        return run.profile.workload.availability == "24x7"
    if assumption_id == "autoscale_headroom":
        return run.sizer.autoscaling
    return assumption_id != "fte_hybrid"


def _band(run: PricingRun, favour: bool) -> dict[str, Decimal]:
    chosen: dict[str, Decimal] = {}
    for entry in run.assumptions.catalog.assumptions:
        if (entry.low is None or entry.high is None or run.assumptions.overridden(entry.id)
                or not _relevant(run, entry.id)):
            continue
        high = entry.id in _HIGH_FAVOURS_SELF_HOSTING
        chosen[entry.id] = entry.high if high == favour else entry.low
    return chosen


def break_even_range(run: PricingRun) -> BreakEvenRange:
    ends = []
    for favour in (True, False):
        band = _band(run, favour)
        result = break_even(run.rebuilt(band=band))
        values = ", ".join(f"{k} {num(v)}" for k, v in sorted(band.items())) or "no banded assumptions"
        ends.append((result.daily_tokens, f"{'favourable' if favour else 'unfavourable'} band ends ({values}): "
                                          f"{result.basis}"))
    (low, low_basis), (high, high_basis) = ends
    return BreakEvenRange(low=low, high=high, low_basis=low_basis, high_basis=high_basis)


def flip_factor(run: PricingRun, chosen: OptionName, other: OptionName, factor: str) -> Decimal | None:
    """The multiplier on managed (``factor='managed'``) or GPU prices at which ``other`` costs what ``chosen`` does."""
    volume = Decimal(run.profile.workload.daily_tokens)

    def costs(f: Decimal) -> tuple[Decimal, Decimal] | None:
        r = run.rebuilt(managed_factor=f) if factor == "managed" else run.rebuilt(gpu_factor=f)
        a, b = r.cost(chosen, volume), r.cost(other, volume)
        return None if a is None or b is None else (a, b)

    one, two = costs(Decimal(1)), costs(Decimal(2))
    if one is None or two is None:
        return None
    gap1, gap2 = one[1] - one[0], two[1] - two[0]  # other - chosen
    if gap1 == gap2:
        return None
    f = Decimal(1) - gap1 / (gap2 - gap1)
    if f <= 0 or f > 100:
        return None
    return f.quantize(Decimal("0.01"))
