"""Two recommendations side by side: what differs in the profile, the versions, the answer and the money.

Pure: it reads two recommendations. Deltas are always ``b - a`` (the second named minus the first).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

import msgspec

from advisor.domain.profile import OPTION_NAMES, OptionName
from advisor.domain.recommendation import OptionAssessment, Recommendation, Strength


class FieldChange(msgspec.Struct, frozen=True, kw_only=True):
    """One profile field whose value differs (lists compare whole)."""

    path: Annotated[str, msgspec.Meta(description="Dotted path in the profile, e.g. `workload.daily_tokens`")]
    a: Annotated[Any, msgspec.Meta(description="Its value in the first assessment (null: absent)")]
    b: Annotated[Any, msgspec.Meta(description="Its value in the second assessment (null: absent)")]


class VersionChange(msgspec.Struct, frozen=True, kw_only=True):
    """A version (code, rules digest, catalog id or digest) that differs."""

    field: Annotated[str, msgspec.Meta(description="`advisor`, `rules_digest`, `catalog_id` or `catalog_digest`")]
    a: Annotated[str, msgspec.Meta(description="In the first assessment")]
    b: Annotated[str, msgspec.Meta(description="In the second assessment")]


class Outcome(msgspec.Struct, frozen=True, kw_only=True):
    decision_a: Annotated[OptionName, msgspec.Meta(description="The first assessment's decision")]
    decision_b: Annotated[OptionName, msgspec.Meta(description="The second assessment's decision")]
    strength_a: Annotated[Strength, msgspec.Meta(description="The first assessment's strength")]
    strength_b: Annotated[Strength, msgspec.Meta(description="The second assessment's strength")]
    changed: Annotated[bool, msgspec.Meta(description="The decision or its strength differs")]


class LineComparison(msgspec.Struct, frozen=True, kw_only=True):
    """One cost category of an option, side by side (lines of one category are summed)."""

    category: Annotated[str, msgspec.Meta(description="The line items' category, e.g. `gpu_compute`, `staffing`")]
    a_usd: Annotated[Decimal | None, msgspec.Meta(description="Monthly USD in the first; null: no such line")]
    b_usd: Annotated[Decimal | None, msgspec.Meta(description="Monthly USD in the second; null: no such line")]
    delta_usd: Annotated[Decimal, msgspec.Meta(description="b - a, a missing line counting as 0")]


class OptionComparison(msgspec.Struct, frozen=True, kw_only=True):
    """One option in both assessments."""

    option: Annotated[OptionName, msgspec.Meta(description="managed, self_hosted or hybrid")]
    eligible_a: Annotated[bool, msgspec.Meta(description="Eligible in the first")]
    eligible_b: Annotated[bool, msgspec.Meta(description="Eligible in the second")]
    configuration_a: Annotated[str, msgspec.Meta(description="What was priced in the first")]
    configuration_b: Annotated[str, msgspec.Meta(description="What was priced in the second")]
    monthly_usd_a: Annotated[Decimal | None, msgspec.Meta(description="Monthly TCO in the first; null: unpriced")]
    monthly_usd_b: Annotated[Decimal | None, msgspec.Meta(description="Monthly TCO in the second; null: unpriced")]
    delta_usd: Annotated[Decimal | None, msgspec.Meta(description="b - a; null where either is unpriced")]
    line_items: Annotated[tuple[LineComparison, ...], msgspec.Meta(description=(
        "Per category, in the order first seen (the first assessment's lines, then the second's new ones)"))]


class FindingChange(msgspec.Struct, frozen=True, kw_only=True):
    rule_id: Annotated[str, msgspec.Meta(description="The rule's id")]
    title: Annotated[str, msgspec.Meta(description="The rule's title")]


class Comparison(msgspec.Struct, frozen=True, kw_only=True):
    """Assessment ``b`` against assessment ``a``."""

    a: Annotated[str, msgspec.Meta(description="The first assessment's id")]
    b: Annotated[str, msgspec.Meta(description="The second assessment's id")]
    profile_changes: Annotated[tuple[FieldChange, ...], msgspec.Meta(description="Profile fields that differ")]
    version_changes: Annotated[tuple[VersionChange, ...], msgspec.Meta(description="Versions that differ")]
    outcome: Annotated[Outcome, msgspec.Meta(description="Decision and strength, both")]
    options: Annotated[tuple[OptionComparison, ...], msgspec.Meta(description="Every option side by side")]
    findings_added: Annotated[tuple[FindingChange, ...], msgspec.Meta(description="Rules that fired in b only")]
    findings_removed: Annotated[tuple[FindingChange, ...], msgspec.Meta(description="Rules that fired in a only")]


def compare(a_id: str, a: Recommendation, b_id: str, b: Recommendation) -> Comparison:
    va, vb = msgspec.structs.asdict(a.versions), msgspec.structs.asdict(b.versions)
    a_rules, b_rules = {f.rule_id: f for f in a.findings}, {f.rule_id: f for f in b.findings}
    return Comparison(
        a=a_id, b=b_id,
        profile_changes=tuple(field_changes(msgspec.to_builtins(a.profile), msgspec.to_builtins(b.profile))),
        version_changes=tuple(VersionChange(field=k, a=str(va[k]), b=str(vb[k])) for k in va if va[k] != vb[k]),
        outcome=Outcome(decision_a=a.decision, decision_b=b.decision, strength_a=a.strength, strength_b=b.strength,
                        changed=(a.decision, a.strength) != (b.decision, b.strength)),
        options=tuple(_option(o, a.options.get(o), b.options.get(o)) for o in OPTION_NAMES),
        findings_added=tuple(FindingChange(rule_id=r, title=f.title) for r, f in b_rules.items() if r not in a_rules),
        findings_removed=tuple(FindingChange(rule_id=r, title=f.title) for r, f in a_rules.items()
                               if r not in b_rules),
    )


def field_changes(a: Any, b: Any, path: str = "") -> list[FieldChange]:
    """Leaf-by-leaf differences of two JSON objects (a list is one leaf)."""
    if isinstance(a, dict) and isinstance(b, dict):
        found: list[FieldChange] = []
        for key in [*a, *(k for k in b if k not in a)]:
            found += field_changes(a.get(key), b.get(key), f"{path}.{key}" if path else key)
        return found
    return [] if a == b else [FieldChange(path=path, a=a, b=b)]


def _totals(option: OptionAssessment) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = {}
    for line in option.line_items:
        totals[line.category] = totals.get(line.category, Decimal(0)) + line.monthly_usd
    return totals


def _option(name: OptionName, a: OptionAssessment, b: OptionAssessment) -> OptionComparison:
    ta, tb = _totals(a), _totals(b)
    lines = tuple(LineComparison(category=c, a_usd=ta.get(c), b_usd=tb.get(c),
                                 delta_usd=tb.get(c, Decimal(0)) - ta.get(c, Decimal(0)))
                  for c in [*ta, *(k for k in tb if k not in ta)])
    delta = None if a.monthly_usd is None or b.monthly_usd is None else b.monthly_usd - a.monthly_usd
    return OptionComparison(option=name, eligible_a=a.eligible, eligible_b=b.eligible,
                            configuration_a=a.configuration, configuration_b=b.configuration,
                            monthly_usd_a=a.monthly_usd, monthly_usd_b=b.monthly_usd, delta_usd=delta,
                            line_items=lines)
