"""The analysis use cases over the evaluation core: a profile's cost curve, and what-if with flip points.

No I/O: the records these read are fetched by the caller. The rules are fired once per scenario
(facts do not read prices or the engineer's cost; volume only where ``volume_dependent_rules``
says so), and each step of a flip search reprices the same fired rules.
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

from advisor.analysis.curve import DEFAULT_POINTS, Curve, Evaluation, decision_at, volume_curve, volume_dependent_rules
from advisor.analysis.what_if import (
    FACTORS,
    Direction,
    Factor,
    Flip,
    Shocks,
    WhatIf,
    flip,
    multiplier,
    search,
    volume_flip,
)
from advisor.costs.assumptions import AssumptionError, Resolved
from advisor.costs.model import PricingRun
from advisor.domain.profile import MAX_DAILY_TOKENS, OptionName, Profile
from advisor.service import Advisor, ProfileError

ENGINEER: str = "engineer_annual_usd"


class Analysis:
    """Curves and what-ifs for one wired :class:`Advisor` (today's rules and catalogs)."""

    def __init__(self, advisor: Advisor) -> None:
        self.advisor = advisor
        self.volume_dependent = bool(volume_dependent_rules(advisor.rulebook))

    def curve(self, profile: Profile, points: int = DEFAULT_POINTS, *, managed_factor: Decimal = Decimal(1),
              gpu_factor: Decimal = Decimal(1)) -> Curve:
        """The profile's cost against volume (``ProfileError`` as ``assess`` would raise it)."""
        self.advisor.assess(profile, managed_factor=managed_factor, gpu_factor=gpu_factor)  # same errors as assess
        return self._curve(profile, self.advisor.evaluate(profile, managed_factor=managed_factor,
                                                          gpu_factor=gpu_factor), points, managed_factor, gpu_factor)

    def _curve(self, profile: Profile, evaluation: Evaluation, points: int, managed_factor: Decimal,
               gpu_factor: Decimal) -> Curve:
        if not self.volume_dependent:
            return volume_curve(evaluation, points)
        return volume_curve(evaluation, points, at=lambda v: self.advisor.evaluate(
            _with_volume(profile, v), managed_factor=managed_factor, gpu_factor=gpu_factor))

    def what_if(self, profile: Profile, shocks: Shocks, points: int = DEFAULT_POINTS) -> WhatIf:
        """The recommendation under ``shocks``, the nearest flip of each factor both ways, and the curve."""
        managed, gpu = multiplier(shocks.managed_price), multiplier(shocks.gpu_price)
        shocked = self.shocked_profile(profile, shocks)
        recommendation = self.advisor.assess(shocked, managed_factor=managed, gpu_factor=gpu)
        evaluation = self.advisor.evaluate(shocked, managed_factor=managed, gpu_factor=gpu)
        curve = self._curve(shocked, evaluation, points, managed, gpu)
        start: OptionName | None = recommendation.decision
        flips: list[Flip] = []
        directions: tuple[Direction, ...] = ("up", "down")
        for factor in FACTORS:
            for direction in directions:
                if factor == "daily_tokens":
                    flips.append(volume_flip(curve, direction, Decimal(repr(shocks.daily_tokens)), start))
                    continue
                flips.append(self._flip(factor, direction, shocked, evaluation, start, managed, gpu,
                                        multiplier(shocks.engineer_cost)))
        return WhatIf(shocks=shocks, recommendation=recommendation, flips=tuple(flips), curve=curve)

    def shocked_profile(self, profile: Profile, shocks: Shocks) -> Profile:
        """The profile with the volume scaled and the engineer's cost overridden (400/422 naming the shock)."""
        result = profile
        if shocks.daily_tokens != 1:
            volume = round(Decimal(profile.workload.daily_tokens) * Decimal(repr(shocks.daily_tokens)))
            if volume > MAX_DAILY_TOKENS:
                raise ProfileError("shocks.daily_tokens", f"the scaled volume {volume:,} tokens/day exceeds the "
                                   f"largest a profile may state ({MAX_DAILY_TOKENS:,})", status=400)
            result = _with_volume(result, int(volume))
        if shocks.engineer_cost != 0:
            value = self._engineer(profile) * multiplier(shocks.engineer_cost)
            try:
                result = _with_engineer(result, value)
                Resolved(self.advisor.catalog_for(result), result)
            except AssumptionError as exc:
                raise ProfileError("shocks.engineer_cost", f"{exc.message} (after the shock)") from None
        return result

    def _engineer(self, profile: Profile) -> Decimal:
        return Resolved(self.advisor.catalog_for(profile), profile).value(ENGINEER)

    def _flip(self, factor: Factor, direction: Direction, shocked: Profile, evaluation: Evaluation,
              start: OptionName | None, managed: Decimal, gpu: Decimal, engineer: Decimal) -> Flip:
        run, excluded = evaluation
        volume = shocked.workload.daily_tokens
        if factor == "managed_price":
            found = search(lambda m: decision_at((run.rebuilt(managed_factor=managed * m), excluded), volume),
                           start, direction)
            return flip(factor, direction, found, managed, start, "managed token prices")
        if factor == "gpu_price":
            found = search(lambda m: decision_at((run.rebuilt(gpu_factor=gpu * m), excluded), volume),
                           start, direction)
            return flip(factor, direction, found, gpu, start, "GPU and server prices")
        base = self._engineer(shocked)
        entry = self.advisor.catalog_for(shocked).data
        allowed = next(a for a in entry.assumptions if a.id == ENGINEER)
        lowest, highest = max(Decimal("0.1"), allowed.min / base), min(Decimal(10), allowed.max / base)

        def decision(m: Decimal) -> OptionName | None:
            moved = _with_engineer(shocked, base * m)
            loaded = self.advisor.catalog_for(moved)
            priced = PricingRun(moved, Resolved(loaded, moved), self.advisor.regions,
                                managed_factor=managed, gpu_factor=gpu)
            return decision_at((self.advisor.priced(priced, excluded), excluded), volume)

        window = "-90%..+900%" if (lowest, highest) == (Decimal("0.1"), Decimal(10)) else (
            f"-90%..+900% and the assumption's range {allowed.min}..{allowed.max} {allowed.unit}")
        return flip(factor, direction, search(decision, start, direction, lowest, highest), engineer, start,
                    "the engineer's annual cost", window)


def _with_volume(profile: Profile, volume: int) -> Profile:
    return msgspec.structs.replace(profile, workload=msgspec.structs.replace(profile.workload, daily_tokens=volume))


def _with_engineer(profile: Profile, value: Decimal) -> Profile:
    overrides = {**profile.assumptions.overrides, ENGINEER: float(value.quantize(Decimal("0.01")))}
    return msgspec.structs.replace(profile, assumptions=msgspec.structs.replace(profile.assumptions,
                                                                                overrides=overrides))
