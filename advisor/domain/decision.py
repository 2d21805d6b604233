"""Choose among the options: hard exclusions first, then cost, then the soft findings.

Policy (from the assess issue): only one eligible option -> it, "mandatory". A decisive
preference (validation stage -> managed) wins where its option is eligible. Otherwise the
lowest monthly TCO wins, "clear"; when the runner-up is within 10%, the soft findings'
weights decide between them, "marginal".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Final

import msgspec

from advisor.domain.profile import OPTION_NAMES, OptionName
from advisor.domain.recommendation import Strength
from advisor.domain.rules import Rule

MARGINAL_SHARE: Final = Decimal("0.10")


class NoEligibleOption(RuntimeError):
    """Every option was excluded or could not be priced; the profile cannot be served."""


class Decision(msgspec.Struct, frozen=True, kw_only=True):
    option: OptionName
    strength: Strength
    reason: str
    eligible: tuple[OptionName, ...]
    excluded_by: dict[OptionName, tuple[str, ...]]


def exclusions(fired: Sequence[Rule]) -> dict[OptionName, tuple[str, ...]]:
    result: dict[OptionName, list[str]] = {name: [] for name in OPTION_NAMES}
    for rule in fired:
        if rule.effect == "exclude":
            for option in rule.options:
                result[option].append(rule.id)
    return {name: tuple(ids) for name, ids in result.items()}


def preference_scores(fired: Sequence[Rule]) -> dict[OptionName, int]:
    scores: dict[OptionName, int] = dict.fromkeys(OPTION_NAMES, 0)
    for rule in fired:
        if rule.effect == "prefer":
            for option in rule.options:
                scores[option] += rule.weight
    return scores


def decide(fired: Sequence[Rule], monthly: Mapping[OptionName, Decimal | None]) -> Decision:
    excluded = exclusions(fired)
    eligible = tuple(o for o in OPTION_NAMES if not excluded[o] and monthly[o] is not None)
    excluded_by = {o: excluded[o] for o in OPTION_NAMES}
    if not eligible:
        raise NoEligibleOption("every option is excluded or cannot be priced")
    if len(eligible) == 1:
        only = eligible[0]
        blockers = sorted({rid for o in OPTION_NAMES if o != only for rid in excluded[o]})
        reason = f"the only eligible option; {', '.join(blockers) or 'pricing'} rules out the others"
        return Decision(option=only, strength="mandatory", reason=reason, eligible=eligible,
                        excluded_by=excluded_by)
    for rule in fired:
        if rule.effect == "prefer" and rule.decisive:
            preferred = next((o for o in rule.options if o in eligible), None)
            if preferred is not None:
                return Decision(option=preferred, strength="clear", reason=f"{rule.id}: {rule.title}",
                                eligible=eligible, excluded_by=excluded_by)
    ranked: list[OptionName] = sorted(eligible, key=lambda o: (monthly[o] or Decimal(0), OPTION_NAMES.index(o)))
    best, runner_up = ranked[0], ranked[1]
    best_cost, runner_cost = monthly[best], monthly[runner_up]
    assert best_cost is not None
    assert runner_cost is not None
    if runner_cost - best_cost > MARGINAL_SHARE * best_cost:
        return Decision(option=best, strength="clear", reason="lowest monthly TCO by more than 10%",
                        eligible=eligible, excluded_by=excluded_by)
    scores = preference_scores(fired)
    close = [o for o in ranked if monthly[o] is not None and monthly[o] - best_cost <= MARGINAL_SHARE * best_cost]  # type: ignore[operator]
    chosen = max(close, key=lambda o: (scores[o], -ranked.index(o)))
    reason = (f"monthly TCO within 10% of each other ({', '.join(close)}); the soft findings favour {chosen}"
              f" ({scores[chosen]} vs {', '.join(str(scores[o]) for o in close if o != chosen)})")
    return Decision(option=chosen, strength="marginal", reason=reason, eligible=eligible,
                    excluded_by=excluded_by)
