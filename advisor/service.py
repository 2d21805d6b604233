"""The assess use case: evaluate the rules, price the options, decide, explain.

Pure apart from the rule engine it is handed; storing and signing happen in the store.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Protocol

from advisor import __version__
from advisor.costs.assumptions import Resolved, UnknownAssumption
from advisor.costs.breakeven import break_even
from advisor.costs.catalog import REQUIRED_ASSUMPTIONS, LoadedCatalog
from advisor.costs.model import OptionPrice, PricingRun
from advisor.domain import narrative
from advisor.domain.decision import decide
from advisor.domain.facts import profile_fact
from advisor.domain.profile import OPTION_NAMES, OptionName, Profile
from advisor.domain.recommendation import Finding, OptionAssessment, Options, Recommendation, Versions
from advisor.domain.rules import Rule, Rulebook


class FactEvaluator(Protocol):
    def evaluate(self, fact: dict[str, object]) -> frozenset[str]: ...


class ProfileError(ValueError):
    """The profile is well-formed but refers to something that does not exist."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{message} - at `$.{field}`")
        self.field = field
        self.message = message


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
    ) -> None:
        check_rules_against_catalogs(rulebook, catalogs)
        if default_catalog not in catalogs:
            raise ValueError(f"default catalog {default_catalog!r} not found; have {sorted(catalogs)}")
        self.rulebook = rulebook
        self.engine = engine
        self.catalogs = catalogs
        self.default_catalog = default_catalog

    def catalog_for(self, profile: Profile) -> LoadedCatalog:
        catalog_id = profile.assumptions.catalog or self.default_catalog
        loaded = self.catalogs.get(catalog_id)
        if loaded is None:
            raise ProfileError("assumptions.catalog", f"unknown catalog {catalog_id!r}; see GET /catalogs")
        return loaded

    def assess(self, profile: Profile) -> Recommendation:
        loaded = self.catalog_for(profile)
        try:
            resolved = Resolved(loaded, profile)
        except UnknownAssumption as exc:
            raise ProfileError(f"assumptions.overrides.{exc.key}",
                               f"unknown assumption {exc.key!r} in catalog {loaded.id}") from exc
        run = PricingRun(profile, resolved)
        capability = profile.workload.capability
        fact = profile_fact(profile, managed_residency_available=bool(run.managed_candidates(capability)))
        fired_ids = self.engine.evaluate(fact)
        fired = [rule for rule in self.rulebook.rules if rule.id in fired_ids]

        prices = {option: self._price(run, option, fired) for option in OPTION_NAMES}
        decision = decide(fired, {o: p.monthly_usd for o, p in prices.items()})
        options = Options(**{o: self._assessment(prices[o], decision.excluded_by[o]) for o in OPTION_NAMES})
        managed_fixed = _fixed(prices["managed"], "managed_tokens")
        self_fixed = _fixed(prices["self_hosted"], "gpu_compute")
        even = break_even(run, managed_fixed, self_fixed)
        risks = narrative.risks(decision, fired)
        return Recommendation(
            decision=decision.option,
            strength=decision.strength,
            summary=narrative.summary(decision, options, risks[0] if risks else None),
            profile=profile,
            options=options,
            findings=tuple(_finding(rule) for rule in fired),
            break_even_daily_tokens=even.daily_tokens,
            break_even_basis=even.basis,
            risks=risks,
            next_steps=narrative.next_steps(decision, profile, options, even.daily_tokens),
            versions=Versions(advisor=__version__, rules_digest=self.rulebook.digest, catalog_id=loaded.id,
                              catalog_digest=loaded.digest),
        )

    @staticmethod
    def _price(run: PricingRun, option: OptionName, fired: list[Rule]) -> OptionPrice:
        costs = [r.cost_item for r in fired if r.effect == "cost" and option in r.options and r.cost_item]
        weeks = [r.weeks_item for r in fired if r.effect == "timeline" and option in r.options and r.weeks_item]
        return run.price(option, costs, weeks)

    @staticmethod
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
        )


def _fixed(price: OptionPrice, variable_category: str) -> Decimal:
    return sum((i.monthly_usd for i in price.line_items if i.category != variable_category), Decimal(0))


def _finding(rule: Rule) -> Finding:
    return Finding(rule_id=rule.id, title=rule.title, category=rule.category, effect=rule.effect,
                   options=rule.options, rationale=rule.rationale, encodes=rule.encodes)
