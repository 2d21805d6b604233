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
    # The last violation is the first one found walking down from the top of the grid.
    last = next((i for i in range(len(GRID) - 2, -1, -1) if gap(GRID[i]) > 0), None)
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
        # The linear estimate, then bisection in case the piece bends (autoscaling, plan switches).
        estimate = Decimal(math.ceil(violating + (after - violating) * g0 / (g0 - g1)))
        if estimate < after and gap(estimate) <= 0 and gap(estimate - tiny) > 0:
            return int(estimate)
        low, high = violating, after  # gap(low) > 0 >= gap(high)
        while high - low > tiny:
            middle = Decimal(math.floor((low + high) / 2))
            if gap(middle) > 0:
                low = middle
            else:
                high = middle
        return int(high)
    return int(after)
