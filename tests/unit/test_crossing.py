"""The volume searches: skipping provably clear runs of the grid never changes the answer (pure)."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from advisor.costs.crossing import GRID, last_grid_index, sustained_from

TOP = len(GRID) - 1


def scan(values_x: list[int], values_y: list[int]) -> int | None:
    """Brute force: the highest index where x > y."""
    return next((i for i in range(TOP, -1, -1) if values_x[i] > values_y[i]), None)


def nondecreasing(draw: st.DrawFn) -> list[int]:
    steps = draw(st.lists(st.integers(0, 50), min_size=len(GRID), max_size=len(GRID)))
    out, total = [], 0
    for s in steps:
        total += s
        out.append(total)
    return out


@st.composite
def two_costs(draw: st.DrawFn) -> tuple[list[int], list[int]]:
    return nondecreasing(draw), nondecreasing(draw)


@given(two_costs())
def test_skipping_finds_what_a_full_scan_finds(costs: tuple[list[int], list[int]]) -> None:
    x, y = costs
    calls = []

    def clear(i: int, j: int) -> bool:
        calls.append((i, j))
        return x[j] - y[i] <= 0

    assert last_grid_index(TOP, clear, lambda i: x[i] > y[i]) == scan(x, y)


def test_far_above_a_crossing_runs_are_skipped() -> None:
    # x = v/2 + 1000, y = v: x is cheaper from 2000 on and the gap widens; a scan would test every index.
    x = [int(v) // 2 + 1000 for v in GRID]
    y = [int(v) for v in GRID]
    tested: list[int] = []

    def violates(i: int) -> bool:
        tested.append(i)
        return x[i] > y[i]

    found = last_grid_index(TOP, lambda i, j: x[j] - y[i] <= 0, violates)
    assert found == scan(x, y)
    assert len(tested) < TOP // 4


def test_sustained_from_solves_the_last_piece_exactly() -> None:
    # A staircase (1,000 per 10M tokens) against a line (0.0003 per token): the last step where x > y decides.
    def x(v: Decimal) -> Decimal:
        return Decimal(1000) * (v // 10_000_000 + 1)

    def y(v: Decimal) -> Decimal:
        return v * Decimal("0.0003")

    def steps(lo: Decimal, hi: Decimal) -> list[Decimal]:
        first = (lo // 10_000_000 + 1) * 10_000_000
        return [Decimal(p) - 1 for p in range(int(first), int(hi) + 1, 10_000_000)]

    at = sustained_from(x, y, steps)
    assert at is not None
    v = Decimal(at)
    assert x(v) <= y(v)
    assert x(v - 1) > y(v - 1)
    # ... and it stays cheaper on every grid point above.
    assert all(x(g) <= y(g) for g in GRID if g >= v)
