"""What-if: a profile under shocks to prices, staff cost and volume, and how far each must move to flip it.

The shocks reach the model the way the recommendation's ``sensitivity`` block moves prices: managed
token prices and GPU/server prices as factors on the pricing run (``PricingRun.rebuilt``), the
engineer's cost as the assumption ``engineer_annual_usd`` overridden in the profile (checked
against the catalog's range like any override), the volume in the profile itself.

The flip search holds the other shocks and moves one factor at a time, up and down within
-90%..+900% (x0.1..x10): a grid of steps outward, then bisection between the last step that keeps
the decision and the first that changes it, to 0.4 percentage points. The decision need not be monotone in a price,
so a flip narrower than the grid's spacing between two steps can be missed: the grid is fine near
the scenario (5%, 10%, 25%) where a board's question usually lies. The volume's flips are exact:
they are the decision changes of the curve.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Annotated, Final, Literal

import msgspec

from advisor.analysis.curve import Curve
from advisor.domain.decision import LABELS
from advisor.domain.profile import OptionName
from advisor.domain.recommendation import Recommendation

Factor = Literal["managed_price", "gpu_price", "engineer_cost", "daily_tokens"]
FACTORS: Final[tuple[Factor, ...]] = ("managed_price", "gpu_price", "engineer_cost", "daily_tokens")
Direction = Literal["up", "down"]
LOWEST, HIGHEST = Decimal("0.1"), Decimal(10)  # the search window as a multiplier: -90%..+900%
WINDOW: Final = "-90%..+900%"
UP_STEPS: Final = tuple(Decimal(s) for s in ("1.05", "1.1", "1.25", "1.5", "2", "3", "5", "10"))
DOWN_STEPS: Final = tuple(Decimal(s) for s in ("0.95", "0.9", "0.8", "0.65", "0.5", "0.35", "0.2", "0.1"))
PRECISION: Final = Decimal("0.001")  # answers are given to 0.1%
BISECT_TO: Final = Decimal("0.004")  # and found to within 0.4 percentage points (then rounded outward)
_RELATIVE = msgspec.Meta(ge=-0.9, le=9.0)


class Shocks(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """Changes to apply before assessing; all default to no change."""

    managed_price: Annotated[float, _RELATIVE, msgspec.Meta(description=(
        "Relative change of every managed token price, e.g. -0.2 for 20% cheaper (-0.9..9)"))] = 0.0
    gpu_price: Annotated[float, _RELATIVE, msgspec.Meta(description=(
        "Relative change of every GPU instance and server price (-0.9..9)"))] = 0.0
    engineer_cost: Annotated[float, _RELATIVE, msgspec.Meta(description=(
        "Relative change of the engineer's annual cost, the assumption `engineer_annual_usd` (the profile's "
        "override if it has one, else the catalog's value); the result must stay within the assumption's range "
        "(-0.9..9)"))] = 0.0
    daily_tokens: Annotated[float, msgspec.Meta(ge=0.1, le=10.0, description=(
        "Multiplier on the daily volume, e.g. 3 for three times as many tokens (0.1..10)"))] = 1.0


class Flip(msgspec.Struct, frozen=True, kw_only=True):
    """The smallest move of one factor, in one direction, that changes the decision (or that none does)."""

    factor: Annotated[Factor, msgspec.Meta(description="What moves; the other shocks stay as given")]
    direction: Annotated[Direction, msgspec.Meta(description="up or down")]
    change: Annotated[Decimal | None, msgspec.Meta(description=(
        "The smallest relative change beyond the shocks that flips the decision (daily_tokens: a multiplier), "
        "found to within 0.4 percentage points; null: no flip within -90%..+900%"))]
    total_change: Annotated[Decimal | None, msgspec.Meta(description=(
        "The same flip point relative to the profile as given, shocks included"))]
    flips_to: Annotated[OptionName | None, msgspec.Meta(description="The decision at the flip point")]
    basis: Annotated[str, msgspec.Meta(description="The flip in words")]


class WhatIf(msgspec.Struct, frozen=True, kw_only=True):
    """A recommendation under shocks (not stored), the flip points around it, and its cost curve."""

    shocks: Annotated[Shocks, msgspec.Meta(description="The shocks applied")]
    recommendation: Annotated[Recommendation, msgspec.Meta(description=(
        "The recommendation under the shocks (its profile carries the scaled volume and the engineer override; "
        "its GPU and managed lines name the price factors)"))]
    flips: Annotated[tuple[Flip, ...], msgspec.Meta(description="Per factor and direction, the nearest flip")]
    curve: Annotated[Curve, msgspec.Meta(description="Cost against volume under the shocks")]


def multiplier(relative: float) -> Decimal:
    """A relative change as an exact multiplier (-0.2 -> 0.8)."""
    return Decimal(1) + Decimal(repr(relative))


def search(decision: Callable[[Decimal], OptionName | None], start: OptionName | None, direction: Direction,
           lowest: Decimal = LOWEST, highest: Decimal = HIGHEST) -> tuple[Decimal, OptionName | None] | None:
    """The multiplier nearest 1 (to ``PRECISION``) at which ``decision`` differs from ``start``; None if none.

    ``lowest``/``highest`` narrow the window (an assumption's allowed range); the bound itself is tried.
    """
    if direction == "up":
        steps = [s for s in UP_STEPS if s < highest] + ([highest] if highest > 1 else [])
    else:
        steps = [s for s in DOWN_STEPS if s > lowest] + ([lowest] if lowest < 1 else [])
    same = Decimal(1)
    for step in steps:
        found = decision(step)
        if found != start:
            flipped, to = step, found
            while abs(flipped - same) > BISECT_TO:
                middle = (flipped + same) / 2
                here = decision(middle)
                if here == start:
                    same = middle
                else:
                    flipped, to = middle, here
            rounding = ROUND_CEILING if direction == "up" else ROUND_FLOOR
            return flipped.quantize(PRECISION, rounding=rounding), to
        same = step
    return None


def flip(factor: Factor, direction: Direction, found: tuple[Decimal, OptionName | None] | None,
         shocked: Decimal, start: OptionName | None, what: str, window: str = WINDOW) -> Flip:
    """``found`` (a multiplier beyond the shocks, and the new decision) as the answer a reader gets."""
    if found is None:
        return Flip(factor=factor, direction=direction, change=None, total_change=None, flips_to=None,
                    basis=f"no flip within {window}: {_label(start)} stays the answer whatever {what} does "
                          f"{'above' if direction == 'up' else 'below'} the scenario")
    at, to = found
    if factor == "daily_tokens":
        change, total = at, (at * shocked).quantize(PRECISION)
        moved = f"x{_num(change)}"
    else:
        change, total = at - 1, (at * shocked - 1).quantize(PRECISION)
        moved = f"{'+' if change > 0 else ''}{_num(change * 100)}%"
    return Flip(factor=factor, direction=direction, change=change, total_change=total, flips_to=to,
                basis=f"the answer becomes {_label(to)} when {what} moves {moved} from the scenario, all else as "
                      "shocked")


def volume_flip(curve: Curve, direction: Direction, shocked: Decimal, start: OptionName | None) -> Flip:
    """The nearest decision change of the curve in ``direction``, as a multiplier of the scenario's volume."""
    volume = curve.profile_daily_tokens
    what = "daily volume"
    if volume == 0:
        return flip("daily_tokens", direction, None, shocked, start, what, "x0.1..x10 (the volume is 0)")
    found: tuple[Decimal, OptionName | None] | None = None
    if direction == "up":
        ahead = [c for c in curve.decision_changes if c.daily_tokens > volume]
        if ahead:
            m = (Decimal(ahead[0].daily_tokens) / volume).quantize(PRECISION, rounding=ROUND_CEILING)
            found = (m, ahead[0].after) if m <= HIGHEST else None
    else:
        behind = [c for c in curve.decision_changes if c.daily_tokens <= volume]
        if behind:
            m = (Decimal(behind[-1].daily_tokens - 1) / volume).quantize(PRECISION, rounding=ROUND_FLOOR)
            found = (m, behind[-1].before) if m >= LOWEST else None
    return flip("daily_tokens", direction, found, shocked, start, what, "x0.1..x10")


def _label(option: OptionName | None) -> str:
    return "no eligible option" if option is None else LABELS[option]


def _num(value: Decimal) -> str:
    return f"{value.normalize():f}"
