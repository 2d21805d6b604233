"""The assess use case: evaluate the rules, price the options, decide, explain.

Pure apart from the rule engine it is handed; storing and signing happen in the store.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Protocol

from advisor import __version__
from advisor.costs.assumptions import AssumptionError, Resolved
from advisor.costs.breakeven import break_even, break_even_range, flip_factor
from advisor.costs.catalog import REQUIRED_ASSUMPTIONS, LoadedCatalog
from advisor.costs.model import OptionPrice, PricingRun, RuleItems
from advisor.domain import narrative
from advisor.domain.decision import LABELS, Decision, Exclusions, NoEligibleOption, decide, exclusions
from advisor.domain.facts import profile_fact
from advisor.domain.profile import OPTION_NAMES, OptionName, Profile
from advisor.domain.recommendation import (
    Finding,
    OptionAssessment,
    Options,
    Recommendation,
    Sensitivity,
    Versions,
)
from advisor.domain.regions import RegionTable
from advisor.domain.rules import Rule, Rulebook


class FactEvaluator(Protocol):
    def evaluate(self, fact: dict[str, object]) -> frozenset[str]: ...


class ProfileError(ValueError):
    """The profile is well-formed but names something that does not exist or cannot be used.

    ``status`` 400 for a value the service's own tables refuse (an unknown region code), 422 for a
    reference to catalog data that does not exist or cannot serve the profile.
    """

    def __init__(self, field: str, message: str, *, status: int = 422) -> None:
        super().__init__(f"{message} - at `$.{field}`")
        self.field = field
        self.message = message
        self.status = status


def check_rules_against_catalogs(rulebook: Rulebook, catalogs: Mapping[str, LoadedCatalog]) -> None:
    """Fail at start-up when a rule names a cost or weeks item no catalog defines."""
    for rule in rulebook.rules:
        for item in (rule.cost_item, rule.weeks_item):
            if item is not None and item not in REQUIRED_ASSUMPTIONS:
                raise ValueError(f"{rule.id}: {item!r} is not a catalog assumption")
    if not catalogs:
        raise ValueError("no pricing catalog found")


class Advisor:
    def __init__(
        self,
        rulebook: Rulebook,
        engine: FactEvaluator,
        catalogs: Mapping[str, LoadedCatalog],
        default_catalog: str,
        regions: RegionTable,
    ) -> None:
        check_rules_against_catalogs(rulebook, catalogs)
        if default_catalog not in catalogs:
            raise ValueError(f"default catalog {default_catalog!r} not found; have {sorted(catalogs)}")
        for loaded in catalogs.values():
            _check_catalog_regions(loaded, regions)
        self.rulebook = rulebook
        self.engine = engine
        self.catalogs = catalogs
        self.default_catalog = default_catalog
        self.regions = regions

    def catalog_for(self, profile: Profile) -> LoadedCatalog:
        catalog_id = profile.assumptions.catalog or self.default_catalog
        loaded = self.catalogs.get(catalog_id)
        if loaded is None:
            raise ProfileError("assumptions.catalog", f"unknown catalog {catalog_id!r}; see GET /catalogs")
        return loaded

    def check(self, profile: Profile, loaded: LoadedCatalog) -> Resolved:
        """Everything a profile names must exist: regions, the current model, assumptions."""
        known = self.regions.codes()
        for i, code in enumerate(profile.compliance.data_residency):
            if code not in known:
                raise ProfileError(f"compliance.data_residency[{i}]",
                                   f"unknown region code {code!r}; see GET /regions for the codes", status=400)
        current = profile.workload.current_model
        if current is not None and not any(current in (o.model, o.id) for o in loaded.data.managed_offerings):
            raise ProfileError("workload.current_model",
                               f"no managed model or offering {current!r} in catalog {loaded.id}; "
                               "see GET /catalogs/{id}")
        try:
            return Resolved(loaded, profile)
        except AssumptionError as exc:
            raise ProfileError(f"assumptions.{exc.field}", exc.message) from exc

    def fact(self, profile: Profile) -> dict[str, object]:
        """The flat fact the rule engine sees for this profile (the catalog answers residency)."""
        run = PricingRun(profile, self.check(profile, self.catalog_for(profile)), self.regions)
        return self._fact(profile, run)

    @staticmethod
    def _fact(profile: Profile, run: PricingRun) -> dict[str, object]:
        return profile_fact(profile, managed_residency_available=bool(run.managed.placed(profile.workload.capability)))

    def fired_ids(self, profile: Profile) -> frozenset[str]:
        """The ids of the rules a profile makes fire (the review board's rule cases use this)."""
        return self.engine.evaluate(self.fact(profile))

    def fired(self, profile: Profile, run: PricingRun) -> list[Rule]:
        fired_ids = self.engine.evaluate(self._fact(profile, run))
        return [rule for rule in self.rulebook.rules if rule.id in fired_ids]

    def evaluate(self, profile: Profile, *, managed_factor: Decimal = Decimal(1),
                 gpu_factor: Decimal = Decimal(1)) -> tuple[PricingRun, Exclusions]:
        """Fire the rules and build the pricing run they configure (line items, excluded variants).

        The factors scale managed token prices and GPU/server prices (a what-if); rules never read prices.
        """
        loaded = self.catalog_for(profile)
        base = PricingRun(profile, self.check(profile, loaded), self.regions,
                          managed_factor=managed_factor, gpu_factor=gpu_factor)
        fired = self.fired(profile, base)
        volume = Decimal(profile.workload.daily_tokens)
        excluded = exclusions(fired, [o for o in OPTION_NAMES if base.cost(o, volume) is not None])
        return self.priced(base, excluded), excluded

    @staticmethod
    def priced(run: PricingRun, excluded: Exclusions) -> PricingRun:
        """A rule-free run with the line items and variant exclusions of rules already fired."""
        return run.with_rules(_rule_items(list(excluded.applied)), tuple(excluded.hybrid_variants))

    def assess(self, profile: Profile, *, managed_factor: Decimal = Decimal(1),
               gpu_factor: Decimal = Decimal(1)) -> Recommendation:
        volume = Decimal(profile.workload.daily_tokens)
        run, excluded = self.evaluate(profile, managed_factor=managed_factor, gpu_factor=gpu_factor)
        loaded = run.a.loaded
        applied = list(excluded.applied)
        prices = {option: run.price(option, volume) for option in OPTION_NAMES}
        try:
            decision = decide(applied, excluded.by_option, {o: p.monthly_usd for o, p in prices.items()},
                              profile.workload.daily_tokens, run.sustained)
        except NoEligibleOption as exc:
            why = "; ".join(f"{LABELS[o]}: " + (f"excluded by {', '.join(excluded.by_option[o])}"
                                                if excluded.by_option[o] else str(prices[o].unavailable_reason))
                            for o in OPTION_NAMES)
            field = "compliance.data_residency" if profile.compliance.data_residency else "workload.capability"
            message = f"no option is both allowed and priceable from catalog {loaded.id}: {why}"
            raise ProfileError(field, message) from exc
        options = Options(**{o: _assessment(prices[o], decision.excluded_by[o]) for o in OPTION_NAMES})
        even = break_even(run)
        chosen = prices[decision.option]
        risks = narrative.risks(decision, applied, chosen, profile)
        unknowns = tuple(f"{LABELS[o]}: {prices[o].unavailable_reason}" for o in decision.unknown)
        return Recommendation(
            decision=decision.option,
            strength=decision.strength,
            summary=narrative.summary(decision, options, risks[0] if risks else None),
            profile=profile,
            options=options,
            findings=tuple(_finding(rule) for rule in applied),
            break_even_daily_tokens=even.daily_tokens,
            break_even_basis=even.basis,
            break_even_range=break_even_range(run),
            latency=narrative.latency_statement(profile, decision.option, chosen),
            sensitivity=_sensitivity(run, decision),
            unknowns=unknowns,
            risks=risks,
            next_steps=narrative.next_steps(decision, profile, options, even.daily_tokens, run),
            versions=Versions(advisor=__version__, rules_digest=self.rulebook.digest, catalog_id=loaded.id,
                              catalog_digest=loaded.digest),
        )


def _rule_items(applied: list[Rule]) -> dict[OptionName, RuleItems]:
    """The catalog cost and weeks items the applied rules attach to each option."""
    items: dict[OptionName, RuleItems] = {}
    for option in OPTION_NAMES:
        costs = tuple(r.cost_item for r in applied if r.effect == "cost" and option in r.options and r.cost_item)
        weeks = tuple(r.weeks_item for r in applied if r.effect == "timeline" and option in r.options and r.weeks_item)
        items[option] = RuleItems(costs=costs, weeks=weeks)
    return items


def _check_catalog_regions(loaded: LoadedCatalog, regions: RegionTable) -> None:
    known = regions.codes()
    data = loaded.data
    used = {r for o in data.managed_offerings for r in o.regions} | {i.region for i in data.gpu_instances}
    missing = sorted(used - known)
    if missing:
        raise ValueError(f"catalog {loaded.id} uses region codes not in rules/regions.toml: {missing}")


def _sensitivity(run: PricingRun, decision: Decision) -> tuple[Sensitivity, ...]:
    chosen = decision.option
    others = [o for o in decision.eligible if o != chosen]
    found: list[Sensitivity] = []
    for other in others:
        for factor, what in (("managed", "managed token prices"), ("gpu", "GPU and server prices")):
            f = flip_factor(run, chosen, other, factor)
            if f == 1:
                continue
            if f is None:
                found.append(Sensitivity(factor=f"{factor}_prices:{other}", flips_at=None, basis=(
                    f"no change in {what} alone (x0.01 to x100) makes {LABELS[other]} cost the same as "
                    f"{LABELS[chosen]} at this volume")))
                continue
            move = f"{'up' if f > 1 else 'down'} {abs(f - 1) * 100:.0f}%"
            found.append(Sensitivity(factor=f"{factor}_prices:{other}", flips_at=f, basis=(
                f"{LABELS[other]} costs the same as {LABELS[chosen]} at this volume when {what} move {move}"
                f" (x{f}), all else fixed")))
    volume = run.profile.workload.daily_tokens
    for option, t in decision.thresholds.items():
        if t is None or option == chosen or volume == 0:
            continue
        ratio = (Decimal(t) / Decimal(volume)).quantize(Decimal("0.01"))
        if t > volume:
            found.append(Sensitivity(factor=f"volume:{option}", flips_at=ratio, basis=(
                f"the answer becomes {LABELS[option]} from {t:,} tokens/day (volume x{ratio}), all else fixed")))
    chosen_t = decision.thresholds.get(chosen)
    if chosen_t is not None and chosen_t > 0 and volume:
        ratio = (Decimal(chosen_t) / Decimal(volume)).quantize(Decimal("0.01"))
        found.append(Sensitivity(factor=f"volume:{chosen}", flips_at=ratio, basis=(
            f"below {chosen_t:,} tokens/day (volume x{ratio}) {LABELS[chosen]} is no longer chosen, all else fixed")))
    return tuple(found)


def _assessment(price: OptionPrice, excluded_by: tuple[str, ...]) -> OptionAssessment:
    return OptionAssessment(
        eligible=not excluded_by and price.unavailable_reason is None,
        excluded_by=excluded_by,
        monthly_usd=price.monthly_usd,
        line_items=price.line_items,
        weeks_to_production=price.weeks,
        weeks_basis=price.weeks_basis,
        configuration=price.configuration,
        unavailable_reason=price.unavailable_reason,
        region=price.region,
        variant=price.variant,
        alternatives=price.alternatives,
        latency=price.latency,
    )


def _finding(rule: Rule) -> Finding:
    return Finding(rule_id=rule.id, title=rule.title, category=rule.category, effect=rule.effect,
                   options=rule.options, rationale=rule.rationale, encodes=rule.encodes)
