"""Drift: what changed between a stored recommendation and the same profile evaluated again.

Pure: it compares three recommendations of one profile. ``before`` is the stored one, ``after``
the one under today's (or proposed) rules and catalog, and ``bridge`` the one under the *old*
rules with the *new* catalog. Per option, ``bridge - before`` is the price effect (only prices
moved) and ``after - bridge`` the rule effect (the rest), so the two always add up to the change.
Without the old rules there is no bridge, and the split is reported as unknown, never guessed.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

import msgspec

from advisor.domain.profile import OPTION_NAMES, OptionName
from advisor.domain.recommendation import Recommendation, Strength

FlipCause = Literal["prices", "rules", "both"]


class _Out(msgspec.Struct, frozen=True, kw_only=True):
    pass


class OptionDrift(_Out, frozen=True):
    """One option's monthly cost before and after, and the change split into its two causes."""

    option: Annotated[OptionName, msgspec.Meta(description="managed, self_hosted or hybrid")]
    before: Annotated[Decimal | None, msgspec.Meta(description=(
        "Monthly USD in the stored record (a decimal string); null when it could not be priced"))]
    after: Annotated[Decimal | None, msgspec.Meta(description=(
        "Monthly USD under the new rules and catalog; null when it cannot be priced"))]
    change: Annotated[Decimal | None, msgspec.Meta(description="`after - before`; null when either is null")]
    price_effect: Annotated[Decimal | None, msgspec.Meta(description=(
        "The part of the change due to the catalog alone: old rules with the new catalog, minus `before`; null "
        "when the split is unknown (see `split`)"))]
    rule_effect: Annotated[Decimal | None, msgspec.Meta(description=(
        "The rest of the change (`change - price_effect`): new rules, and any change in the advisor's code; null "
        "when the split is unknown"))]
    eligible_before: Annotated[bool, msgspec.Meta(description="Eligible in the stored record")]
    eligible_after: Annotated[bool, msgspec.Meta(description="Eligible under the new rules and catalog")]


class Drift(_Out, frozen=True):
    """How the advice moved from the stored record to now, and why."""

    decision_before: Annotated[OptionName, msgspec.Meta(description="The stored decision")]
    decision_after: Annotated[OptionName, msgspec.Meta(description="The decision under the new rules and catalog")]
    strength_before: Annotated[Strength, msgspec.Meta(description="The stored strength")]
    strength_after: Annotated[Strength, msgspec.Meta(description="The strength now")]
    flipped: Annotated[bool, msgspec.Meta(description="The decision changed")]
    flip_cause: Annotated[FlipCause | None, msgspec.Meta(description=(
        "What changed the decision: `prices` (old rules with the new catalog already decide differently), "
        "`rules` (they decide as before; the new rules change it) or `both`; null when it did not flip or the "
        "split is unknown"))]
    decision_old_rules_new_catalog: Annotated[OptionName | None, msgspec.Meta(description=(
        "The decision of the old rules with the new catalog; null when the split is unknown"))]
    options: Annotated[tuple[OptionDrift, ...], msgspec.Meta(description="Each option's cost, before and after")]
    rules_newly_firing: Annotated[tuple[str, ...], msgspec.Meta(description=(
        "Ids of rules that take effect now and did not in the stored record"))]
    rules_stopped_firing: Annotated[tuple[str, ...], msgspec.Meta(description=(
        "Ids of rules that took effect in the stored record and do not now"))]
    rules_digest_before: Annotated[str, msgspec.Meta(description="The stored record's rules digest")]
    rules_digest_after: Annotated[str, msgspec.Meta(description="The rules digest now")]
    catalog_digest_before: Annotated[str, msgspec.Meta(description="The stored record's catalog digest")]
    catalog_digest_after: Annotated[str, msgspec.Meta(description="The catalog digest now")]
    split: Annotated[Literal["known", "unknown"], msgspec.Meta(description=(
        "`known`: the old rules were replayed with the new catalog, so each change is split into its price and "
        "rule effects; `unknown`: they could not be (see `split_basis`), and no split is given"))]
    split_basis: Annotated[str, msgspec.Meta(description="How the split was made, or why it could not be")]


def _minus(a: Decimal | None, b: Decimal | None) -> Decimal | None:
    return None if a is None or b is None else a - b


def flip_cause(before: OptionName, bridge: OptionName | None, after: OptionName) -> FlipCause | None:
    if before == after or bridge is None:
        return None
    if bridge == after:
        return "prices"
    return "rules" if bridge == before else "both"


def drift(before: Recommendation, after: Recommendation, bridge: Recommendation | None, basis: str) -> Drift:
    """Compare ``before`` and ``after``; ``bridge`` (old rules, new catalog) splits each change, or None."""
    options = []
    for name in OPTION_NAMES:
        old, new = before.options.get(name), after.options.get(name)
        change = _minus(new.monthly_usd, old.monthly_usd)
        price = None if bridge is None else _minus(bridge.options.get(name).monthly_usd, old.monthly_usd)
        rule = _minus(change, price)
        options.append(OptionDrift(option=name, before=old.monthly_usd, after=new.monthly_usd, change=change,
                                   price_effect=price, rule_effect=rule, eligible_before=old.eligible,
                                   eligible_after=new.eligible))
    fired_before = [f.rule_id for f in before.findings]
    fired_after = [f.rule_id for f in after.findings]
    return Drift(
        decision_before=before.decision, decision_after=after.decision,
        strength_before=before.strength, strength_after=after.strength,
        flipped=before.decision != after.decision,
        flip_cause=flip_cause(before.decision, None if bridge is None else bridge.decision, after.decision),
        decision_old_rules_new_catalog=None if bridge is None else bridge.decision,
        options=tuple(options),
        rules_newly_firing=tuple(r for r in fired_after if r not in fired_before),
        rules_stopped_firing=tuple(r for r in fired_before if r not in fired_after),
        rules_digest_before=before.versions.rules_digest, rules_digest_after=after.versions.rules_digest,
        catalog_digest_before=before.versions.catalog_digest, catalog_digest_after=after.versions.catalog_digest,
        split="unknown" if bridge is None else "known", split_basis=basis,
    )
