"""Money and numbers as people read them in a basis sentence; amounts are Decimal, rounded to cents."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Final

CENT: Final = Decimal("0.01")
MILLION: Final = Decimal(1_000_000)


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def usd(value: Decimal) -> str:
    """Format a monthly amount for a basis sentence: $1,234.56."""
    return f"${cents(value):,}"


def rate(value: Decimal) -> str:
    """Format a unit price exactly as the catalog gives it: $10.76654, $0.195."""
    text = f"{value.normalize():,f}"
    return f"${text}" if "." in text else f"${text}.00"


def num(value: Decimal | int | float) -> str:
    d = Decimal(value) if not isinstance(value, Decimal) else value
    if d == d.to_integral_value():
        return f"{int(d):,}"
    return f"{d.quantize(Decimal('0.01')).normalize():,f}"
