"""Rules as reviewable data: what a rule says, independent of the engine that fires it."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from advisor.domain.profile import OptionName

Category = Literal["override", "checklist", "hidden_cost", "routing"]
EffectKind = Literal["exclude", "prefer", "cost", "risk", "timeline", "info"]
Operator = Literal["eq", "ne", "gt", "gte", "lt", "lte"]
Scalar = bool | int | float | str
Clause = dict[str, Scalar | dict[Operator, Scalar]]

# Hybrid routing comes in two variants; a rule may exclude one of them only (see ``hybrid_variants``).
HybridVariant = Literal["self_hosted_small", "managed_small"]
HYBRID_VARIANTS: tuple[HybridVariant, ...] = ("self_hosted_small", "managed_small")

RuleId = Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{2,5}-[A-Z0-9-]{2,40}$")]


class Rule(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """One rule as written in ``rules/*.toml``.

    ``when`` holds conditions that must all be true; ``when_any`` alternatives of which one
    must be true. ``effect`` says what firing does to ``options``:
    exclude (hard: the option is not eligible), prefer (soft: only a preference for a less risky
    option acts, see ``decision``; ``decisive`` wins whenever the option is eligible), cost (adds the catalog line item
    ``cost_item``), risk (adds the rationale as a risk), timeline (adds ``weeks_item`` weeks
    to time to production), info (explains, changes nothing).

    ``hybrid_variants`` narrows an exclusion to those hybrid variants (a rule that names
    ``hybrid`` in ``options`` excludes every variant). ``unless_sole`` makes an exclusion
    apply only while at least one of the named options stays eligible without it: checklist
    item 2 rules out self-hosting for a team that cannot run it, but not where nothing else is
    allowed.
    """

    id: Annotated[RuleId, msgspec.Meta(description="Stable id, cited in findings and in `excluded_by`")]
    title: Annotated[str, msgspec.Meta(description="What the rule says, in one line")]
    category: Annotated[Category, msgspec.Meta(description=(
        "`override` (regulation and hard requirements), `checklist`, `hidden_cost` or `routing`"))]
    encodes: Annotated[str, msgspec.Meta(description=(
        "The checklist item or regulation it encodes, short"))]  # the checklist item or regulation, short
    quote: Annotated[str, msgspec.Meta(description="The words of the source it encodes")]  # the source's words
    rationale: Annotated[str, msgspec.Meta(description="Why, as shown to the reader")]
    effect: Annotated[EffectKind, msgspec.Meta(description=(
        "What firing does to `options`: `exclude` (not eligible), `prefer` (soft), `cost` (adds the line item "
        "`cost_item`), `risk`, `timeline` (adds `weeks_item` weeks) or `info` (explains only)"))]
    options: Annotated[tuple[OptionName, ...], msgspec.Meta(description="The options the effect applies to")] = ()
    when: Annotated[Clause, msgspec.Meta(description=(
        "Conditions on fact fields (`fact_fields`) that must all hold: a bare value means equals, else an "
        "operator (eq, ne, gt, gte, lt, lte) and a value; empty with empty `when_any`: always fires"))] = (
        msgspec.field(default_factory=dict))
    when_any: Annotated[tuple[Clause, ...], msgspec.Meta(description=(
        "Alternative conditions of which at least one must hold"))] = ()
    decisive: Annotated[bool, msgspec.Meta(description=(
        "For `prefer`: the option wins wherever it is eligible"))] = False
    cost_item: Annotated[str | None, msgspec.Meta(description=(
        "For `cost`: the catalog assumption priced as a monthly line item"))] = None
    weeks_item: Annotated[str | None, msgspec.Meta(description=(
        "For `timeline`: the catalog assumption whose weeks are added to time to production"))] = None
    hybrid_variants: Annotated[tuple[HybridVariant, ...], msgspec.Meta(description=(
        "Narrows an exclusion to these hybrid variants (`self_hosted_small`, `managed_small`)"))] = ()
    unless_sole: Annotated[tuple[OptionName, ...], msgspec.Meta(description=(
        "The exclusion applies only while at least one of these options stays eligible without it"))] = ()


class Rulebook(msgspec.Struct, frozen=True, kw_only=True):
    """All rules, in file order, with the digest of the files they came from."""

    rules: tuple[Rule, ...]
    digest: str
    # The files' exact bytes by stem, in digest order: kept in the database so a past record's rules can be
    # read back and replayed (empty for a rulebook built in a test from rules alone).
    files: tuple[tuple[str, bytes], ...] = ()

    def by_id(self) -> dict[str, Rule]:
        return {r.id: r for r in self.rules}
