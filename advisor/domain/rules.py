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
    exclude (hard: the option is not eligible), prefer (soft, ``weight`` 1 normal, 3 strong;
    ``decisive`` wins whenever the option is eligible), cost (adds the catalog line item
    ``cost_item``), risk (adds the rationale as a risk), timeline (adds ``weeks_item`` weeks
    to time to production), info (explains, changes nothing).

    ``hybrid_variants`` narrows an exclusion to those hybrid variants (a rule that names
    ``hybrid`` in ``options`` excludes every variant). ``unless_sole`` makes an exclusion
    apply only while at least one of the named options stays eligible without it: checklist
    item 2 rules out self-hosting for a team that cannot run it, but not where nothing else is
    allowed.
    """

    id: RuleId
    title: str
    category: Category
    encodes: str  # the checklist item or regulation, short
    quote: str  # the words of the source it encodes
    rationale: str
    effect: EffectKind
    options: tuple[OptionName, ...] = ()
    when: Clause = msgspec.field(default_factory=dict)
    when_any: tuple[Clause, ...] = ()
    weight: Annotated[int, msgspec.Meta(ge=1, le=3)] = 1
    decisive: bool = False
    cost_item: str | None = None
    weeks_item: str | None = None
    hybrid_variants: tuple[HybridVariant, ...] = ()
    unless_sole: tuple[OptionName, ...] = ()


class Rulebook(msgspec.Struct, frozen=True, kw_only=True):
    """All rules, in file order, with the digest of the files they came from."""

    rules: tuple[Rule, ...]
    digest: str

    def by_id(self) -> dict[str, Rule]:
        return {r.id: r for r in self.rules}
