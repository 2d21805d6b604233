"""Where one option becomes, and stays, cheaper than another as daily volume grows.

Self-hosted costs are staircases (whole servers), managed costs are lines, so "cheaper at
this volume" can flip back and forth near a break-even as servers are added. Advice that
flips like that is useless; what a planner needs is the volume from which an option *stays*
cheaper. ``sustained_from`` finds it: the costs are compared on a fixed geometric grid of
volumes (the same for every profile, so the answer never depends on the volume asked about),
the last grid interval with a violation is refined at every step of either staircase, and
the crossing inside the last affine piece is solved exactly.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from decimal import Decimal
from typing import Final

from advisor.domain.profile import MAX_DAILY_TOKENS

Cost = Callable[[Decimal], Decimal | None]
Steps = Callable[[Decimal, Decimal], list[Decimal] | None]

_RATIO: Final = Decimal("1.25")


def _grid() -> tuple[Decimal, ...]:
    points = [Decimal(0)]
    v = Decimal(1000)
    while v < MAX_DAILY_TOKENS:
        points.append(v.to_integral_value())
        v *= _RATIO
    points.append(Decimal(MAX_DAILY_TOKENS))
    return tuple(points)


GRID: Final = _grid()


def sustained_from(x: Cost, y: Cost, steps: Steps, factor: Decimal = Decimal(1)) -> int | None:
    """Smallest daily volume from which ``x(v) <= factor * y(v)`` at every larger volume checked.

    None when ``x`` is not cheaper at the largest volume a profile may state (it never wins).
    """

    def gap(v: Decimal) -> Decimal:
        a, b = x(v), y(v)
        if a is None or b is None:
            return Decimal(1)
        return a - factor * b

    if gap(GRID[-1]) > 0:
        return None

    def clear(i: int, j: int) -> bool:
        # Both costs grow with volume, so on [GRID[i], GRID[j]] the gap is at most x(top) - factor * y(bottom).
        a, b = x(GRID[j]), y(GRID[i])
        return a is not None and b is not None and a - factor * b <= 0

    last = last_grid_index(len(GRID) - 2, clear, lambda i: gap(GRID[i]) > 0)
    if last is None:
        return 0
    lo, hi = GRID[last], GRID[last + 1]
    points = steps(lo, hi)
    if points is None:
        return int(hi)
    # Each step is a jump just after the point: test its left (old level) and right (new level).
    tiny = Decimal(1)
    probes = sorted({lo, hi, *points, *(p + tiny for p in points if p + tiny <= hi)})
    violating = max((p for p in probes if gap(p) > 0), default=lo)
    after = next((p for p in probes if p > violating), hi)
    # Between two probes both costs are affine: solve for the crossing.
    g0, g1 = gap(violating), gap(after)
    if g1 <= 0 < g0 and after - violating > tiny:
        # Start from the linear estimate and gallop to a bracket around the sign change, then bisect it: the piece
        # is affine only up to cent rounding and bends (autoscaling, plan switches), and the estimate is
        # usually within a few tokens, so this costs a handful of evaluations instead of a bisection of the piece.
        start = Decimal(math.ceil(violating + (after - violating) * g0 / (g0 - g1)))
        start = min(max(start, violating + tiny), after)
        low, high = _bracket(gap, start, violating, after)  # gap(low) > 0 >= gap(high)
        while high - low > tiny:
            # Whole tokens, strictly inside (low, high): the ends may be fractional (a step point's + 1).
            middle = max(Decimal(math.floor((low + high) / 2)), low + tiny)
            if gap(middle) > 0:
                low = middle
            else:
                high = middle
        return int(high)
    return int(after)


def last_grid_index(top: int, clear: Callable[[int, int], bool], violates: Callable[[int], bool]) -> int | None:
    """The highest grid index <= ``top`` that ``violates``, or None.

    The same answer as testing every index from the top down, but whole runs of indices ``i..j`` that
    ``clear(i, j)`` proves violation-free are skipped: far above a crossing the gap is wide, so runs of many grid
    steps clear with two cost evaluations. The run tried grows while runs clear and shrinks when one does not.
    """
    width, j = 1, top
    while j >= 0:
        i = max(0, j - width + 1)
        if width > 1 and not clear(i, j):
            width //= 2
            continue
        if width == 1 and violates(j):
            return j
        j = i - 1
        width *= 2
    return None


def _bracket(gap: Callable[[Decimal], Decimal], start: Decimal, low: Decimal, high: Decimal) -> tuple[Decimal, Decimal]:
    """A sub-interval ``(l, h)`` of ``(low, high)`` around ``start`` with ``gap(l) > 0 >= gap(h)``, found by
    doubling steps away from ``start`` (given ``gap(low) > 0 >= gap(high)``)."""
    step = Decimal(1)
    if gap(start) <= 0:
        high = start
        while high - step > low and gap(high - step) <= 0:
            high -= step
            step *= 2
        return max(low, high - step), high
    low = start
    while low + step < high and gap(low + step) > 0:
        low += step
        step *= 2
    return low, min(high, low + step)
