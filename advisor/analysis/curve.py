"""Cost against volume: each eligible option's monthly cost over a log-spaced range of daily volumes.

Pure: it reads an evaluation (the pricing run the fired rules configured, and their exclusions)
and nothing else. The rules are fired once, at the profile's own volume, and the same run prices
every point: no rule that changes a price or the decision (``exclude``, ``prefer``, ``cost``)
conditions on ``daily_tokens`` in today's rulebook (``CHK-VOLUME`` is ``info``: it explains, it
changes nothing). ``volume_dependent_rules`` checks that claim against the rulebook in use; where
it does not hold, the caller hands in ``at`` and the rules are fired again at every point.

Each point's decision is ``decide`` over the same costs and the same crossing volumes the
recommendation uses, so at the profile's own volume the curve and the recommendation agree.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from decimal import Decimal
from typing import Annotated, Final

import msgspec

from advisor.costs.crossing import GRID
from advisor.costs.model import PricingRun
from advisor.domain.decision import LABELS, RISK_RANK, Exclusions, NoEligibleOption, decide
from advisor.domain.profile import MAX_DAILY_TOKENS, OPTION_NAMES, OptionName
from advisor.domain.rules import Rule, Rulebook

DEFAULT_POINTS: Final = 25
MIN_POINTS: Final = 3
MAX_POINTS: Final = 200
SPAN: Final = 100  # the range is volume / SPAN .. volume x SPAN
# Effects that change a price or the decision; a rule with another effect may depend on volume freely.
_DECIDING_EFFECTS: Final = frozenset({"exclude", "prefer", "cost"})

Evaluation = tuple[PricingRun, Exclusions]


class CurvePoint(msgspec.Struct, frozen=True, kw_only=True):
    """One volume: each option's monthly cost there and the decision the advisor would make."""

    daily_tokens: Annotated[int, msgspec.Meta(description="The daily volume of this point")]
    monthly_usd: Annotated[dict[OptionName, Decimal | None], msgspec.Meta(description=(
        "Per option of `options`, its monthly TCO in USD at this volume (a decimal string); null where the "
        "catalog cannot price it"))]
    decision: Annotated[OptionName | None, msgspec.Meta(description=(
        "The option the advisor chooses at this volume, all else fixed; null where no option is eligible"))]
    profile: Annotated[bool, msgspec.Meta(description="This is the profile's own volume")] = False


class Crossing(msgspec.Struct, frozen=True, kw_only=True):
    """Where a riskier option becomes, and stays, no dearer than a less risky one."""

    riskier: Annotated[OptionName, msgspec.Meta(description="The option with more operational risk")]
    safer: Annotated[OptionName, msgspec.Meta(description="The option with less operational risk")]
    daily_tokens: Annotated[int | None, msgspec.Meta(description=(
        "The daily volume from which `riskier` costs at most what `safer` does at every larger volume; null: "
        "never up to the largest volume a profile may state"))]
    basis: Annotated[str, msgspec.Meta(description="The crossing in words")]


class DecisionChange(msgspec.Struct, frozen=True, kw_only=True):
    """A volume at which the decision changes, all else fixed."""

    daily_tokens: Annotated[int, msgspec.Meta(description="The first volume with the new decision")]
    before: Annotated[OptionName | None, msgspec.Meta(description="The decision just below it")]
    after: Annotated[OptionName | None, msgspec.Meta(description="The decision from it on")]


class Curve(msgspec.Struct, frozen=True, kw_only=True):
    """Monthly cost of each eligible option against daily volume, with the decision at each point."""

    profile_daily_tokens: Annotated[int, msgspec.Meta(description="The profile's own daily volume")]
    options: Annotated[tuple[OptionName, ...], msgspec.Meta(description=(
        "The options the rules leave eligible (one that cannot be priced is here with null costs)"))]
    excluded_by: Annotated[dict[OptionName, tuple[str, ...]], msgspec.Meta(description=(
        "Per option left out of the curve, the rule ids that exclude it"))]
    points: Annotated[tuple[CurvePoint, ...], msgspec.Meta(description=(
        "Log-spaced volumes from 1/100 to 100 times the profile's (within 1 and the largest volume a profile may "
        "state), plus the profile's own volume, ascending"))]
    crossings: Annotated[tuple[Crossing, ...], msgspec.Meta(description=(
        "Per pair of eligible options, where the riskier one becomes and stays no dearer"))]
    decision_changes: Annotated[tuple[DecisionChange, ...], msgspec.Meta(description=(
        "Every volume at which the decision changes, all else fixed (at any volume, not only inside the range)"))]
    rules_fired_once: Annotated[bool, msgspec.Meta(description=(
        "true: no rule that changes a price or the decision depends on volume, so the rules fired at the "
        "profile's volume hold at every point; false: they were fired again at each point"))]


def volume_dependent_rules(rulebook: Rulebook) -> tuple[str, ...]:
    """Ids of rules that change a price or the decision and condition on ``daily_tokens``."""
    return tuple(rule.id for rule in rulebook.rules if rule.effect in _DECIDING_EFFECTS and _reads_volume(rule))


def _reads_volume(rule: Rule) -> bool:
    return "daily_tokens" in rule.when or any("daily_tokens" in clause for clause in rule.when_any)


def volumes(volume: int, points: int = DEFAULT_POINTS, span: int = SPAN) -> tuple[int, ...]:
    """``points`` log-spaced volumes around ``volume`` (1/span .. span x), and ``volume`` itself, ascending."""
    centre = max(volume, 1)
    lo, hi = max(1.0, centre / span), min(float(MAX_DAILY_TOKENS), centre * float(span))
    if hi <= lo:
        hi = lo * span
    step = (math.log(hi) - math.log(lo)) / (points - 1)
    found = {min(MAX_DAILY_TOKENS, max(1, round(math.exp(math.log(lo) + i * step)))) for i in range(points)}
    return tuple(sorted(found | {volume}))


def decision_at(evaluation: Evaluation, volume: int) -> OptionName | None:
    """The option ``decide`` chooses at ``volume`` with the evaluation's rules and prices, all else fixed.

    ``decide`` only compares the volume with each crossing, so it is handed whether the crossing lies
    at or below the volume (``settled``) rather than the crossing itself: the same answer, and a
    flip search that asks this dozens of times skips most of each crossing search.
    """
    run, excluded = evaluation
    monthly = {o: run.cost(o, Decimal(volume)) for o in OPTION_NAMES}

    def threshold(riskier: OptionName, safer: OptionName, factor: Decimal) -> int | None:
        return 0 if settled(run, riskier, safer, factor, volume) else None

    try:
        return decide(list(excluded.applied), excluded.by_option, monthly, volume, threshold).option
    except NoEligibleOption:
        return None


def settled(run: PricingRun, riskier: OptionName, safer: OptionName, factor: Decimal, volume: int) -> bool:
    """``run.sustained(riskier, safer, factor) <= volume``, reading the crossing grid from the top down only
    as far as the volume where it can (the crossing search reads it the same way, then refines)."""
    v = Decimal(volume)

    def gap(at: Decimal) -> Decimal:
        a, b = run.cost(riskier, at), run.cost(safer, at)
        return Decimal(1) if a is None or b is None else a - factor * b

    above = [g for g in GRID if g >= v]
    if any(gap(g) > 0 for g in reversed(above)):  # a violation at or above the volume: the crossing is above it
        return False
    below = [g for g in GRID if g < v]
    if not below or gap(below[-1]) <= 0:  # the last violation ends below the volume's grid interval
        return True
    at = run.sustained(riskier, safer, factor)  # the volume lies in the last violating interval: refine
    return at is not None and at <= volume


def volume_curve(evaluation: Evaluation, points: int = DEFAULT_POINTS, *,
                 at: Callable[[int], Evaluation] | None = None) -> Curve:
    """The curve around the evaluated profile's volume.

    ``at`` (volume -> evaluation with the rules fired at that volume) is needed only when
    ``volume_dependent_rules`` finds rules; without it every point uses ``evaluation``.
    """
    if not MIN_POINTS <= points <= MAX_POINTS:
        raise ValueError(f"points must be between {MIN_POINTS} and {MAX_POINTS}")
    run, excluded = evaluation
    volume = run.profile.workload.daily_tokens
    options = tuple(o for o in OPTION_NAMES if not excluded.by_option[o])

    def evaluated(v: int) -> Evaluation:
        return evaluation if at is None or v == volume else at(v)

    curve_points = []
    for v in volumes(volume, points):
        here_run, here_excluded = evaluated(v)
        curve_points.append(CurvePoint(
            daily_tokens=v, monthly_usd={o: here_run.cost(o, Decimal(v)) for o in options},
            decision=decision_at((here_run, here_excluded), v), profile=v == volume))
    changes = (_changes_at_thresholds(evaluation) if at is None
               else _changes_between(curve_points, lambda v: decision_at(evaluated(v), v)))
    return Curve(profile_daily_tokens=volume, options=options,
                 excluded_by={o: ids for o, ids in excluded.by_option.items() if ids},
                 points=tuple(curve_points), crossings=_crossings(run, options), decision_changes=changes,
                 rules_fired_once=at is None)


def _crossings(run: PricingRun, options: tuple[OptionName, ...]) -> tuple[Crossing, ...]:
    priced = [o for o in options if run.cost(o, Decimal(run.profile.workload.daily_tokens)) is not None]
    found = []
    for riskier in sorted(priced, key=RISK_RANK.__getitem__, reverse=True):
        for safer in sorted((o for o in priced if RISK_RANK[o] < RISK_RANK[riskier]), key=RISK_RANK.__getitem__):
            at = run.sustained(riskier, safer)
            basis = (f"{LABELS[riskier]} costs at most what {LABELS[safer]} does from {at:,} tokens/day on"
                     if at is not None else
                     f"{LABELS[riskier]} does not stay as cheap as {LABELS[safer]} at any volume")
            found.append(Crossing(riskier=riskier, safer=safer, daily_tokens=at, basis=basis))
    return tuple(found)


def _changes_at_thresholds(evaluation: Evaluation) -> tuple[DecisionChange, ...]:
    """With one set of fired rules the decision changes only at the crossing volumes it was handed."""
    run, excluded = evaluation
    # Which options can be priced does not depend on volume; at volume 0 ``decide`` visits every riskier
    # option until one is chosen from 0 on, so its thresholds are all the volumes where the answer can change.
    monthly = {o: run.cost(o, Decimal(run.profile.workload.daily_tokens)) for o in OPTION_NAMES}
    try:
        thresholds = decide(list(excluded.applied), excluded.by_option, monthly, 0, run.sustained).thresholds
    except NoEligibleOption:
        return ()
    found = []
    for t in sorted({t for t in thresholds.values() if t is not None and t > 0}):
        before, after = decision_at(evaluation, t - 1), decision_at(evaluation, t)
        if before != after:
            found.append(DecisionChange(daily_tokens=t, before=before, after=after))
    return tuple(found)


def _changes_between(points: list[CurvePoint],
                     decision: Callable[[int], OptionName | None]) -> tuple[DecisionChange, ...]:
    """Where rules depend on volume: bisect each pair of neighbouring points whose decisions differ."""
    found = []
    for left, right in itertools.pairwise(points):
        if left.decision == right.decision:
            continue
        lo, hi = left.daily_tokens, right.daily_tokens  # decision(lo) differs from decision(hi)
        while hi - lo > 1:
            middle = (lo + hi) // 2
            if decision(middle) == left.decision:
                lo = middle
            else:
                hi = middle
        found.append(DecisionChange(daily_tokens=hi, before=decision(lo), after=decision(hi)))
    return tuple(found)
