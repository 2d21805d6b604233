"""What the advisor answers: options priced line by line, findings, decision, and versions.

These types are the response contract of ``POST /assess`` and of the signed record, so they
hold no floats of their own: money is Decimal (encoded as a decimal string) rounded to cents.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

import msgspec

from advisor.domain.profile import OptionName, Profile
from advisor.domain.rules import Category, EffectKind

Strength = Literal["mandatory", "clear", "marginal"]


class _Out(msgspec.Struct, frozen=True, kw_only=True):
    pass


class SourceRef(_Out, frozen=True):
    """Where a figure comes from: an entry of the catalog named in ``versions`` and its date.

    The entry's full source text is served by ``GET /catalogs/{id}``; ``assumption`` marks an
    unsourced catalog figure or a caller override, which a reader should check.
    """

    entry: str
    as_of: str
    assumption: bool = False


class LineItem(_Out, frozen=True):
    category: str
    monthly_usd: Decimal
    basis: str
    source: SourceRef
    inputs: tuple[SourceRef, ...] = ()


class Alternative(_Out, frozen=True):
    """Another managed offering of the same tier, priced for the same profile."""

    offering: str
    model: str
    open_weights: bool
    monthly_usd: Decimal


class LatencyCheck(_Out, frozen=True):
    """Whether an option meets the profile's p95 latency need, and on what evidence."""

    target_ms: int | None
    met: bool | None  # None: no target, or no published evidence either way
    evidence: str


class OptionAssessment(_Out, frozen=True):
    eligible: bool
    excluded_by: tuple[str, ...]
    monthly_usd: Decimal | None
    line_items: tuple[LineItem, ...]
    weeks_to_production: int | None
    weeks_basis: str
    configuration: str
    unavailable_reason: str | None = None
    # Where it runs: a region code from GET /regions, "on_prem", or "global" (no residency commitment).
    region: str | None = None
    variant: str | None = None
    alternatives: tuple[Alternative, ...] = ()
    latency: LatencyCheck | None = None


class Options(_Out, frozen=True):
    managed: OptionAssessment
    self_hosted: OptionAssessment
    hybrid: OptionAssessment

    def get(self, name: OptionName) -> OptionAssessment:
        value: OptionAssessment = getattr(self, name)
        return value


class Finding(_Out, frozen=True):
    rule_id: str
    title: str
    category: Category
    effect: EffectKind
    options: tuple[OptionName, ...]
    rationale: str
    encodes: str


class Versions(_Out, frozen=True):
    advisor: str
    rules_digest: str
    catalog_id: str
    catalog_digest: str


class BreakEvenRange(_Out, frozen=True):
    """Break-even under the documented assumption bands: each end with the values that make it."""

    low: int | None
    high: int | None
    low_basis: str
    high_basis: str


class Sensitivity(_Out, frozen=True):
    """A single-factor change that would flip the decision, found by search over the same model."""

    factor: str
    flips_at: Decimal | None
    basis: str


class Recommendation(_Out, frozen=True):
    """The advice itself; equal profiles and versions give equal recommendations."""

    decision: OptionName
    strength: Strength
    summary: str
    profile: Profile
    options: Options
    findings: tuple[Finding, ...]
    break_even_daily_tokens: int | None
    break_even_basis: str
    break_even_range: BreakEvenRange
    latency: str
    sensitivity: tuple[Sensitivity, ...]
    unknowns: tuple[str, ...]
    risks: tuple[str, ...]
    next_steps: tuple[str, ...]
    versions: Versions
