"""Choose among the options: rules exclude, prices rank, and the answer never goes back with volume.

Policy:
- Exclusions are hard and come from rules (regulations and stated requirements). An exclusion
  with ``unless_sole`` applies only while one of its named options stays eligible.
- An option that is not excluded but cannot be priced is *unknown* (a catalog gap), never a
  reason for a mandate: ``mandatory`` is reserved for an answer that rules leave alone.
- A decisive preference (early validation stage -> managed) wins where its option is eligible.
- Otherwise options are ranked by operational risk: managed < hybrid < self-hosted. A riskier
  option is chosen only from the volume at which it becomes, and stays, cheaper than every
  less risky eligible option (the crossing volumes are computed by the cost model and handed
  in). Where a soft finding favours the less risky option, the riskier one must stay at least
  10% cheaper (the tie band). So with everything else fixed the decision is monotone in
  volume, and it never picks an option that costs more than a less risky one at this volume.
- Strength: ``clear`` when the chosen option is more than 10% cheaper than every other eligible
  option at this volume, else ``marginal``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Final

import msgspec

from advisor.domain.profile import OPTION_NAMES, OptionName
from advisor.domain.recommendation import Strength
from advisor.domain.rules import HybridVariant, Rule

MARGINAL_SHARE: Final = Decimal("0.10")
TIE_FACTOR: Final = 1 - MARGINAL_SHARE
RISK_RANK: Final[dict[OptionName, int]] = {"managed": 0, "hybrid": 1, "self_hosted": 2}
LABELS: Final[dict[OptionName, str]] = {"managed": "managed API", "hybrid": "hybrid routing",
                                        "self_hosted": "self-hosting"}

# threshold(riskier, safer, factor) -> the daily volume from which riskier <= factor x safer for good.
Threshold = Callable[[OptionName, OptionName, Decimal], int | None]


class NoEligibleOption(RuntimeError):
    """Every option was excluded or could not be priced; the profile cannot be served."""


class Exclusions(msgspec.Struct, frozen=True, kw_only=True):
    by_option: dict[OptionName, tuple[str, ...]]
    hybrid_variants: dict[HybridVariant, tuple[str, ...]]
    applied: tuple[Rule, ...]  # the fired rules that take effect (an unless_sole rule may not)


class Decision(msgspec.Struct, frozen=True, kw_only=True):
    option: OptionName
    strength: Strength
    reason: str
    eligible: tuple[OptionName, ...]
    excluded_by: dict[OptionName, tuple[str, ...]]
    unknown: tuple[OptionName, ...]
    thresholds: dict[OptionName, int | None]  # per riskier option: volume from which it is chosen over safer ones


def exclusions(fired: Sequence[Rule], priced: Sequence[OptionName]) -> Exclusions:
    """Apply exclusions; an ``unless_sole`` rule only while one of its options stays eligible."""
    first: dict[OptionName, list[str]] = {name: [] for name in OPTION_NAMES}
    for rule in fired:
        if rule.effect == "exclude" and not rule.unless_sole and not rule.hybrid_variants:
            for option in rule.options:
                first[option].append(rule.id)
    eligible_first = {o for o in OPTION_NAMES if not first[o] and o in priced}
    applied: list[Rule] = []
    result = {name: list(ids) for name, ids in first.items()}
    variants: dict[HybridVariant, list[str]] = {}
    for rule in fired:
        if rule.effect == "exclude" and (rule.unless_sole or rule.hybrid_variants):
            if rule.unless_sole and not eligible_first.intersection(rule.unless_sole):
                continue
            for option in rule.options:
                result[option].append(rule.id)
            for variant in rule.hybrid_variants:
                variants.setdefault(variant, []).append(rule.id)
        applied.append(rule)
    return Exclusions(by_option={o: tuple(ids) for o, ids in result.items()},
                      hybrid_variants={v: tuple(ids) for v, ids in variants.items()}, applied=tuple(applied))


def favoured(fired: Sequence[Rule]) -> set[OptionName]:
    """Options a soft finding favours; only a less risky one can use it, inside the tie band."""
    return {o for r in fired if r.effect == "prefer" and not r.decisive for o in r.options}


def decide(fired: Sequence[Rule], excluded: Mapping[OptionName, tuple[str, ...]],
           monthly: Mapping[OptionName, Decimal | None], volume: int, threshold: Threshold) -> Decision:
    eligible = tuple(o for o in OPTION_NAMES if not excluded[o] and monthly[o] is not None)
    unknown = tuple(o for o in OPTION_NAMES if not excluded[o] and monthly[o] is None)
    excluded_by = {o: excluded[o] for o in OPTION_NAMES}
    if not eligible:
        raise NoEligibleOption("every option is excluded or cannot be priced")

    def made(option: OptionName, strength: Strength, reason: str,
             thresholds: dict[OptionName, int | None] | None = None) -> Decision:
        return Decision(option=option, strength=strength, reason=reason, eligible=eligible, excluded_by=excluded_by,
                        unknown=unknown, thresholds=thresholds or {})

    if len(eligible) == 1:
        only = eligible[0]
        if not unknown:
            blockers = sorted({rid for o in OPTION_NAMES if o != only for rid in excluded[o]})
            return made(only, "mandatory", f"the only eligible option; {', '.join(blockers)} rule(s) out the others")
        gaps = ", ".join(LABELS[o] for o in unknown)
        return made(only, "clear", f"the only option that could be priced; {gaps} could not be priced from the"
                                   " catalog (unknown, not ruled out)")
    for rule in fired:
        if rule.effect == "prefer" and rule.decisive:
            preferred = next((o for o in rule.options if o in eligible), None)
            if preferred is not None:
                return made(preferred, "clear", f"{rule.id}: {rule.title}")

    soft = favoured(fired)
    thresholds: dict[OptionName, int | None] = {}
    chosen: OptionName = min(eligible, key=RISK_RANK.__getitem__)
    for riskier in sorted(eligible, key=RISK_RANK.__getitem__, reverse=True):
        safer = [o for o in eligible if RISK_RANK[o] < RISK_RANK[riskier]]
        if not safer:
            break
        needed: int | None = 0
        for other in safer:
            t = threshold(riskier, other, TIE_FACTOR if other in soft else Decimal(1))
            needed = None if t is None or needed is None else max(needed, t)
        thresholds[riskier] = needed
        if needed is not None and volume >= needed:
            chosen = riskier
            break
    return _ranked(made, chosen, eligible, monthly, thresholds, soft)


def _ranked(made: Callable[..., Decision], chosen: OptionName, eligible: tuple[OptionName, ...],
            monthly: Mapping[OptionName, Decimal | None], thresholds: dict[OptionName, int | None],
            soft: set[OptionName]) -> Decision:
    cost = monthly[chosen]
    assert cost is not None
    others = [o for o in eligible if o != chosen]
    close = [o for o in others if (monthly[o] or Decimal(0)) <= cost * (1 + MARGINAL_SHARE)]
    riskier_cheaper = [o for o in others if RISK_RANK[o] > RISK_RANK[chosen] and (monthly[o] or Decimal(0)) < cost]
    if riskier_cheaper:
        o = riskier_cheaper[0]
        t = thresholds.get(o)
        when = (f"it stays cheaper only from {t:,} tokens/day" if t is not None
                else "it does not stay cheaper as volume grows")
        reason = (f"{LABELS[o]} costs less at exactly this volume, but {when}"
                  + (" (by more than 10%, as the soft findings favour lower operational risk)"
                     if chosen in soft else "") + f"; {LABELS[chosen]} has lower operational risk")
        return made(chosen, "marginal", reason, thresholds)
    if close:
        names = ", ".join(LABELS[o] for o in close)
        return made(chosen, "marginal", f"lowest monthly TCO among the eligible options, within 10% of {names}",
                    thresholds)
    return made(chosen, "clear", "lowest monthly TCO by more than 10%", thresholds)
