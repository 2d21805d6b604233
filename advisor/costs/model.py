"""The TCO model: the three options priced at a daily volume, line by line, from one catalog.

- Managed: the comparator offering's tokens (see ``managed``) plus the fixed items the rules
  attach (integration, lock-in remediation).
- Self-hosted: the cheapest plan of the tier's deployments (see ``fleet``): GPUs or owned
  servers, staff and per-node operations, plus integration. Never a deployment of another tier.
- Hybrid, two variants, the cheaper eligible one is the option: (a) the simple share on a
  self-hosted small model, or (b) on a managed small model (API-to-API routing: no GPUs, no
  staff), the rest on the managed comparator; both pay for a routing layer.

``cost(option, v)`` is the same arithmetic as ``price(option, v)`` without the words, for the
searches over volume (break-even, the decision's crossings); a test holds them equal.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Final

import msgspec

from advisor.costs.assumptions import Resolved
from advisor.costs.candidates import candidate_plans
from advisor.costs.crossing import sustained_from
from advisor.costs.fleet import Fleet, Plan, Sizer
from advisor.costs.managed import Choice, ManagedPricer
from advisor.costs.money import cents, num, usd
from advisor.domain.profile import Capability, OptionName, Profile
from advisor.domain.recommendation import Alternative, LatencyCheck, LineItem
from advisor.domain.regions import RegionTable
from advisor.domain.rules import HybridVariant

# Weeks that run in parallel (the longest counts) versus build work that follows them.
LEAD_WEEKS: Final = frozenset({"weeks_hiring", "weeks_cloud_provisioning", "weeks_procurement_with_relationship",
                               "weeks_procurement_without_relationship", "weeks_baa_legal"})
# Items that only a fleet of GPUs incurs: not charged to API-to-API routing.
FLEET_ITEMS: Final = frozenset({"ops_overhead_monthly_usd", "weeks_self_hosted_setup", "weeks_hiring",
                                "weeks_cloud_provisioning", "weeks_procurement_with_relationship",
                                "weeks_procurement_without_relationship"})
PER_NODE_ITEMS: Final = frozenset({"ops_overhead_monthly_usd"})


class OptionPrice(msgspec.Struct, frozen=True, kw_only=True):
    """An option's priced line items, or why it could not be priced."""

    line_items: tuple[LineItem, ...]
    configuration: str
    weeks: int | None = None
    weeks_basis: str = ""
    unavailable_reason: str | None = None
    region: str | None = None
    variant: HybridVariant | None = None
    alternatives: tuple[Alternative, ...] = ()
    latency: LatencyCheck | None = None
    notes: tuple[str, ...] = ()  # caveats of the chosen offering or deployment, for the risks

    @property
    def monthly_usd(self) -> Decimal | None:
        if self.unavailable_reason is not None:
            return None
        return sum((item.monthly_usd for item in self.line_items), Decimal(0))


class RuleItems(msgspec.Struct, frozen=True, kw_only=True):
    """What the fired rules attach to one option: catalog cost items and weeks items."""

    costs: tuple[str, ...] = ()
    weeks: tuple[str, ...] = ()


class PricingRun:
    """Prices the options of one profile against one catalog's resolved assumptions."""

    def __init__(self, profile: Profile, assumptions: Resolved, regions: RegionTable,
                 items: Mapping[OptionName, RuleItems] | None = None,
                 excluded_variants: Sequence[HybridVariant] = (),
                 managed_factor: Decimal = Decimal(1), gpu_factor: Decimal = Decimal(1)) -> None:
        self.profile, self.assumptions, self.regions = profile, assumptions, regions
        self.items = dict(items or {})
        self.excluded_variants = frozenset(excluded_variants)
        self.managed = ManagedPricer(profile, assumptions, regions, managed_factor)
        self.sizer = Sizer(profile, assumptions, regions, gpu_factor)
        self.capability: Capability = profile.workload.capability
        self.share = Decimal(repr(profile.workload.simple_task_share))
        self.main: Choice = self.managed.choose(self.capability)
        self.small: Choice = self.managed.choose("small", comparator=False)
        self.plans: list[Plan] = candidate_plans(profile, assumptions, self.sizer, self.capability,
                                                 "fte_self_hosted")
        self.small_plans: list[Plan] = candidate_plans(profile, assumptions, self.sizer, "small", "fte_hybrid")
        self._costs: dict[tuple[OptionName, Decimal], Decimal | None] = {}
        self._sustained: dict[tuple[OptionName, OptionName, Decimal], int | None] = {}
        self._memo: dict[tuple[object, ...], RuleItems | Decimal] = {}  # per-run arithmetic that repeats

    def with_rules(self, items: Mapping[OptionName, RuleItems],
                   excluded_variants: Sequence[HybridVariant]) -> PricingRun:
        """This run with the fired rules' line items and variant exclusions; the plans are shared."""
        run = copy.copy(self)
        run.items = dict(items)
        run.excluded_variants = frozenset(excluded_variants)
        run._costs, run._sustained, run._memo = {}, {}, {}
        return run

    def sustained(self, riskier: OptionName, safer: OptionName, factor: Decimal = Decimal(1)) -> int | None:
        """The daily volume from which ``riskier`` costs at most ``factor`` x ``safer`` for good (see crossing)."""
        key = (riskier, safer, factor)
        if key not in self._sustained:
            def steps(lo: Decimal, hi: Decimal) -> list[Decimal] | None:
                a, b = self.steps(riskier, lo, hi), self.steps(safer, lo, hi)
                return None if a is None or b is None else sorted(set(a) | set(b))

            self._sustained[key] = sustained_from(lambda v: self.cost(riskier, v), lambda v: self.cost(safer, v),
                                                  steps, factor)
        return self._sustained[key]

    def rebuilt(self, *, band: Mapping[str, Decimal] | None = None, managed_factor: Decimal | None = None,
                gpu_factor: Decimal | None = None) -> PricingRun:
        """The same run under other assumption band values or price factors (sensitivity).

        A price factor scales every plan alike, so the plans are kept; band values re-plan.
        """
        if band is None:
            run = self.with_rules(self.items, tuple(self.excluded_variants))
            if managed_factor is not None:
                run.managed = ManagedPricer(self.profile, self.assumptions, self.regions, managed_factor)
            if gpu_factor is not None:
                run.sizer = copy.copy(self.sizer)
                run.sizer.gpu_factor = gpu_factor
            return run
        return PricingRun(self.profile, self.assumptions.with_band(band), self.regions,
                          self.items, tuple(self.excluded_variants),
                          self.managed.factor if managed_factor is None else managed_factor,
                          self.sizer.gpu_factor if gpu_factor is None else gpu_factor)

    # ------------------------------------------------------------------ fixed items
    def _items(self, option: OptionName, fleet: bool) -> RuleItems:
        key = (option, fleet)
        found = self._memo.get(key)
        if found is None:
            found = self.items.get(option, RuleItems())
            if not fleet:
                found = RuleItems(costs=tuple(i for i in found.costs if i not in FLEET_ITEMS),
                                  weeks=tuple(i for i in found.weeks if i not in FLEET_ITEMS))
            self._memo[key] = found
        assert isinstance(found, RuleItems)
        return found

    def _fixed_amount(self, costs: Sequence[str], nodes: int) -> Decimal:
        key = (tuple(costs), nodes)
        total = self._memo.get(key)
        if total is None:
            total = Decimal(0)
            for item in costs:
                if item in PER_NODE_ITEMS:
                    overhead = self.assumptions.value("ops_overhead_per_node_monthly_usd")
                    total += cents(self.assumptions.value(item) + overhead * nodes)
                else:
                    total += cents(self.assumptions.value(item))
            self._memo[key] = total
        assert isinstance(total, Decimal)
        return total

    def _fixed_lines(self, costs: Sequence[str], nodes: int) -> list[LineItem]:
        lines = []
        for item in costs:
            if item in PER_NODE_ITEMS:
                lines.append(self.sizer.ops_line(nodes))
            else:
                value, entry = self.assumptions.value(item), self.assumptions.entry(item)
                lines.append(LineItem(category=item.removesuffix("_monthly_usd"), monthly_usd=cents(value),
                                      basis=f"{entry.title}: {usd(value)}/month", source=self.assumptions.ref(item)))
        return lines

    def _staff_amount(self, nodes: int, base_item: str) -> Decimal:
        key = ("staff", base_item, nodes)
        amount = self._memo.get(key)
        if amount is None:
            fte = self.sizer.fte(nodes, base_item)
            if self.profile.assumptions.staffing == "incremental":
                fte = max(Decimal(0), fte - self.profile.team.ml_infra_engineers)
            engineer = self.assumptions.value("engineer_annual_usd")
            loaded = self.assumptions.value("loaded_cost_multiplier")
            amount = cents(fte * engineer * loaded / 12)
            self._memo[key] = amount
        assert isinstance(amount, Decimal)
        return amount

    def _fleet_amount(self, fleet: Fleet, base_item: str, costs: Sequence[str]) -> Decimal:
        gpu = cents(fleet.units * fleet.plan.unit_monthly * self.sizer.gpu_factor)
        return gpu + self._staff_amount(fleet.nodes, base_item) + self._fixed_amount(costs, fleet.nodes)

    def _best_fleet(self, plans: Sequence[Plan], volume: Decimal, base_item: str,
                    costs: Sequence[str]) -> tuple[Decimal, Fleet] | None:
        best: tuple[Decimal, Fleet] | None = None
        for plan in plans:
            fleet = self.sizer.size(plan, volume)
            amount = self._fleet_amount(fleet, base_item, costs)
            if best is None or amount < best[0]:
                best = (amount, fleet)
        return best

    # ------------------------------------------------------------------ totals only (searches)
    def cost(self, option: OptionName, volume: Decimal) -> Decimal | None:
        key = (option, volume)
        if key not in self._costs:
            self._costs[key] = self._cost(option, volume)
        return self._costs[key]

    def _cost(self, option: OptionName, volume: Decimal) -> Decimal | None:
        if option == "managed":
            o = self.main.offering
            if o is None:
                return None
            return cents(self.managed.monthly(o, volume)) + self._fixed_amount(self._items("managed", False).costs, 0)
        if option == "self_hosted":
            best = self._best_fleet(self.plans, volume, "fte_self_hosted", self._items("self_hosted", True).costs)
            return None if best is None else best[0]
        totals = [t for t in (self._hybrid_cost(v, volume) for v in self.hybrid_variants()) if t is not None]
        return min(totals) if totals else None

    def baa_vendors(self) -> list[str]:
        """Platforms in the catalog that sign a BAA for this tier where the data may go."""
        return [self.assumptions.catalog.platform(p).name for p in self.managed.baa_platforms(self.capability)]

    def hybrid_variants(self) -> tuple[HybridVariant, ...]:
        return tuple(v for v in ("self_hosted_small", "managed_small") if v not in self.excluded_variants)

    def _hybrid_cost(self, variant: HybridVariant, volume: Decimal) -> Decimal | None:
        main = self.main.offering
        if main is None:
            return None
        rest = cents(self.managed.monthly(main, volume * (1 - self.share)))
        if variant == "managed_small":
            small = self.small.offering
            if small is None:
                return None
            return (cents(self.managed.monthly(small, volume * self.share)) + rest
                    + self._fixed_amount(self._items("hybrid", False).costs, 0))
        best = self._best_fleet(self.small_plans, volume * self.share, "fte_hybrid", self._items("hybrid", True).costs)
        return None if best is None else best[0] + rest

    def steps(self, option: OptionName, lo: Decimal, hi: Decimal, limit: int = 400) -> list[Decimal] | None:
        """Volumes in (lo, hi] where the option's cost jumps or bends; None when there are too many."""
        found: list[Decimal] = []
        if option == "self_hosted":
            sources = [(p, Decimal(1)) for p in self.plans]
        elif option == "hybrid" and "self_hosted_small" in self.hybrid_variants() and self.share > 0:
            sources = [(p, self.share) for p in self.small_plans]
        else:
            return found
        for plan, scale in sources:
            points = self.sizer.steps(plan, lo * scale, hi * scale, limit)
            if points is None:
                return None
            found += [p / scale for p in points]
            if len(found) > limit:
                return None
        return sorted(set(found))

    # ------------------------------------------------------------------ priced, with words
    def price(self, option: OptionName, volume: Decimal) -> OptionPrice:
        if option == "managed":
            return self._price_managed(volume)
        if option == "self_hosted":
            return self._price_self_hosted(volume)
        return self._price_hybrid(volume)

    def _weeks(self, items: Sequence[str]) -> tuple[int, str]:
        lead = {i: self.assumptions.value(i) for i in items if i in LEAD_WEEKS}
        build = {i: self.assumptions.value(i) for i in items if i not in LEAD_WEEKS}
        total = (max(lead.values()) if lead else Decimal(0)) + sum(build.values(), Decimal(0))
        parts = []
        if lead:
            names = ", ".join(f"{k.removeprefix('weeks_')} {num(v)}" for k, v in lead.items())
            parts.append(f"max({names})" if len(lead) > 1 else names)
        parts += [f"{k.removeprefix('weeks_')} {num(v)}" for k, v in build.items()]
        return math.ceil(total), (" + ".join(parts) + f" = {num(total)} weeks") if parts else "no lead time"

    def _alternatives(self) -> tuple[Alternative, ...]:
        return tuple(Alternative(offering=o.id, model=o.model, open_weights=o.open_weights, monthly_usd=cents(
            self.managed.monthly(o, Decimal(self.profile.workload.daily_tokens)))) for o in self.main.alternatives)

    def _price_managed(self, volume: Decimal) -> OptionPrice:
        o = self.main.offering
        if o is None:
            return OptionPrice(line_items=(), configuration="none", unavailable_reason=self.main.unavailable_reason)
        items = self._items("managed", False)
        lines = [self.managed.token_line(o, volume), *self._fixed_lines(items.costs, 0)]
        weeks, basis = self._weeks(items.weeks)
        notes = tuple(n for n in (self.main.note, o.caveats and f"{o.id}: {o.caveats}") if n)
        latency = None
        if self.profile.workload.latency_p95_ms is not None:
            latency = LatencyCheck(target_ms=self.profile.workload.latency_p95_ms, met=None,
                                   evidence="unknown: the catalog has no latency commitment for managed APIs")
        return OptionPrice(line_items=tuple(lines), configuration=f"managed API: {o.id}", weeks=weeks,
                           weeks_basis=basis, region=self._where(o.regions),
                           alternatives=self._alternatives(), latency=latency, notes=notes)

    def _where(self, regions: Sequence[str]) -> str:
        """Where a managed offering processes this profile's data: the pinned region that serves the
        residency need, its regions when there is none, or "global" (no residency commitment)."""
        wanted = self.profile.compliance.data_residency
        if wanted:
            serving = [r for r in regions if self.regions.allowed(r, wanted)]
            if serving:
                return ",".join(serving)
        return ",".join(regions) if regions else "global"

    def _latency(self, plan: Plan) -> LatencyCheck:
        return LatencyCheck(target_ms=self.profile.workload.latency_p95_ms, met=plan.capacity.latency_met,
                            evidence=plan.capacity.latency_evidence)

    def _fleet_notes(self, plan: Plan) -> tuple[str, ...]:
        d = plan.deployment
        notes = []
        if plan.capacity.upper_bound:
            notes.append(f"{d.id} is sized on an offline maximum-throughput figure with no latency limit: an upper"
                         " bound, so real capacity is lower")
        if d.quality_gap:
            notes.append(f"{d.model} and the managed {self.capability} tier: {d.quality_gap}")
        return tuple(notes)

    def _no_fleet(self, what: str) -> str:
        regions = ", ".join(self.profile.compliance.data_residency)
        where = f" in {regions}" if regions else ""
        mode = "as owned hardware" if self.sizer.owned_only else f"at {self.sizer.provisioning} pricing{where}"
        catalog_id = self.assumptions.catalog.catalog.id
        return f"catalog {catalog_id} has no {what} deployment that fits and can be placed {mode}"

    def _price_self_hosted(self, volume: Decimal) -> OptionPrice:
        items = self._items("self_hosted", True)
        best = self._best_fleet(self.plans, volume, "fte_self_hosted", items.costs)
        if best is None:
            return OptionPrice(line_items=(), configuration="none",
                               unavailable_reason=self._no_fleet(f"{self.capability}-tier open-weight"))
        fleet = best[1]
        lines = [self.sizer.gpu_line(fleet, "gpu_compute"), self.sizer.staffing_line(fleet.nodes, "fte_self_hosted"),
                 *self._fixed_lines(items.costs, fleet.nodes)]
        weeks, basis = self._weeks(items.weeks)
        return OptionPrice(line_items=tuple(lines), configuration=f"self-hosted: {_fleet_text(fleet)}", weeks=weeks,
                           weeks_basis=basis, region=fleet.plan.region, latency=self._latency(fleet.plan),
                           notes=self._fleet_notes(fleet.plan))

    def _price_hybrid(self, volume: Decimal) -> OptionPrice:
        variants = self.hybrid_variants()
        priced = [(c, v) for v in variants if (c := self._hybrid_cost(v, volume)) is not None]
        if not priced:
            reasons = [r for r in (self.main.unavailable_reason, self.small.unavailable_reason) if r]
            if "self_hosted_small" in variants and not self.small_plans:
                reasons.append(self._no_fleet("small-tier"))
            if not variants:
                reasons.append("both hybrid variants are excluded by rules")
            return OptionPrice(line_items=(), configuration="none", unavailable_reason="; ".join(reasons) or "n/a")
        variant = min(priced, key=lambda cv: (cv[0], cv[1]))[1]
        main = self.main.offering
        assert main is not None
        share = self.share
        rest = self.managed.token_line(main, volume * (1 - share), f"{num((1 - share) * 100)}% routed to managed: ")
        if variant == "managed_small":
            small = self.small.offering
            assert small is not None
            items = self._items("hybrid", False)
            head = self.managed.token_line(small, volume * share, f"{num(share * 100)}% routed to the small model: ")
            lines = [head, rest, *self._fixed_lines(items.costs, 0)]
            config = f"hybrid (API-to-API routing): {num(share * 100)}% on {small.id}, rest on {main.id}"
            region = self._where(main.regions)
            notes = tuple(f"{o.id}: {o.caveats}" for o in (small, main) if o.caveats)
            latency = None
        else:
            items = self._items("hybrid", True)
            best = self._best_fleet(self.small_plans, volume * share, "fte_hybrid", items.costs)
            assert best is not None
            fleet = best[1]
            lines = [self.sizer.gpu_line(fleet, "gpu_compute_small_model", f"{num(share * 100)}% simple work: "),
                     rest, self.sizer.staffing_line(fleet.nodes, "fte_hybrid"),
                     *self._fixed_lines(items.costs, fleet.nodes)]
            config = f"hybrid: {num(share * 100)}% on {_fleet_text(fleet)}, rest on {main.id}"
            region = fleet.plan.region
            notes = tuple(f"{o.id}: {o.caveats}" for o in (main,) if o.caveats) + self._fleet_notes(fleet.plan)
            latency = self._latency(fleet.plan)
        weeks, basis = self._weeks(items.weeks)
        return OptionPrice(line_items=tuple(lines), configuration=config, weeks=weeks, weeks_basis=basis,
                           region=region, variant=variant, latency=latency, notes=notes)


def _fleet_text(fleet: Fleet) -> str:
    plan = fleet.plan
    d = plan.deployment
    where = "on premises" if plan.owned else f"in {plan.region}"
    count = num(fleet.units)
    unit = (f"{count} server(s), {plan.unit_gpus} x {d.gpu} each" if plan.owned
            else f"{count} x {plan.unit_name} ({plan.unit_gpus} x {d.gpu})")
    return f"{unit} {where}, {d.model} {d.precision} ({d.id})"
