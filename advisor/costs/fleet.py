"""Self-hosted fleets: which servers, how many, where, and the people and overheads they need.

A *plan* is one deployment (an open model on a GPU type) on one kind of unit: a cloud instance
SKU in an allowed region at the chosen pricing model, or an owned server. Its monthly cost is a
function of daily volume: whole units at peak (24/7, no autoscaling) or, when autoscaling in a
cloud, the diurnal average times a headroom. Staffing and per-node operations scale with the
number of 8-GPU nodes; a 24x7 service needs at least an on-call rotation's worth of staff.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from decimal import Decimal
from typing import Final

import msgspec

from advisor.costs.assumptions import Resolved
from advisor.costs.capacity import Capacity, capacity
from advisor.costs.catalog import Deployment, GpuInstance, OnPremServer
from advisor.costs.money import cents, num, rate, usd
from advisor.domain.facts import owns_hardware, provisioning
from advisor.domain.profile import Capability, Profile
from advisor.domain.recommendation import LineItem, SourceRef
from advisor.domain.regions import ON_PREM, RegionTable

SECONDS_PER_DAY: Final = Decimal(86_400)
GPUS_PER_NODE: Final = 8
_DISCOUNT = {"reserved_1y": "reserved_1y_discount", "reserved_3y": "reserved_3y_discount", "spot": "spot_discount"}
_SELLS_SPOT = frozenset({"aws", "gcp", "azure"})


def _pack(d: Deployment, unit_gpus: int) -> Decimal:
    """Replicas per unit: whole replicas on a larger unit, or a fraction when a replica spans units."""
    if unit_gpus >= d.gpus:
        return Decimal(unit_gpus // d.gpus)
    return Decimal(unit_gpus) / d.gpus if d.gpus % unit_gpus == 0 else Decimal(0)


class Plan(msgspec.Struct, frozen=True, kw_only=True):
    deployment: Deployment
    capacity: Capacity
    unit_id: str
    unit_name: str
    unit_gpus: int
    pack: Decimal  # replicas per unit; below 1 when one replica spans several units (multi-node)
    unit_monthly: Decimal  # before the run's GPU price factor
    unit_basis: str
    region: str  # a region code or "on_prem"
    owned: bool
    refs: tuple[SourceRef, ...]


class Fleet(msgspec.Struct, frozen=True, kw_only=True):
    """A plan sized for one daily volume."""

    plan: Plan
    units: Decimal  # whole units, or fractional average units when autoscaling
    replicas_needed: int
    spare: int
    peak_tok_s: Decimal
    nodes: int


class Sizer:
    """The run-level sizing rules, shared by every plan of a pricing run."""

    def __init__(self, profile: Profile, assumptions: Resolved, regions: RegionTable, gpu_factor: Decimal) -> None:
        self.profile, self.assumptions, self.regions, self.gpu_factor = profile, assumptions, regions, gpu_factor
        w = profile.workload
        self.peak_ratio = Decimal(repr(w.peak_to_average))
        self.output_share = Decimal(repr(w.output_share))
        self.util = assumptions.value("utilisation_target")
        self.spare = int(assumptions.value("redundancy_spare_replicas")) if w.availability == "24x7" else 0
        self.owned_only = owns_hardware(profile)
        self.autoscaling = profile.assumptions.autoscaling and not self.owned_only
        self.headroom = assumptions.value("autoscale_headroom")
        self.hours = assumptions.catalog.catalog.hours_per_month
        self.provisioning = provisioning(profile)
        self._rows = {(r.provider, r.sku, r.cloud_region, r.pricing) for r in assumptions.catalog.gpu_instances}
        self._row_prices: dict[str, tuple[Decimal, str, tuple[SourceRef, ...]] | None] = {}

    # ------------------------------------------------------------------ plans
    def plans(self, capability: Capability) -> list[Plan]:
        """Cheapest plan per (deployment, unit size, owned or cloud) that fits and may run here."""
        best: dict[tuple[str, Decimal, bool], Plan] = {}
        for d in self.assumptions.catalog.deployments:
            if capability not in d.capabilities:
                continue
            cap = capacity(d, self.output_share, self.profile.workload.latency_p95_ms)
            if cap is None:
                continue
            for plan in self._units_for(d, cap):
                key = (d.id, plan.pack, plan.owned)
                if key not in best or plan.unit_monthly < best[key].unit_monthly:
                    best[key] = plan
        return list(best.values())

    def _fits(self, d: Deployment, gpu_mem_gb: Decimal) -> bool:
        return d.weights_gb <= d.gpus * gpu_mem_gb * self.assumptions.value("gpu_memory_usable_share")

    def _units_for(self, d: Deployment, cap: Capacity) -> Iterator[Plan]:
        on_prem_allowed = self.owned_only or self.profile.infrastructure.gpu_procurement == "on_prem"
        if on_prem_allowed:
            for server in self.assumptions.catalog.on_prem_servers:
                if server.gpu == d.gpu and _pack(d, server.gpus) and self._fits(d, server.gpu_mem_gb):
                    yield self._owned(d, cap, server)
        if self.owned_only:
            return
        jurisdictions = self.profile.compliance.data_residency
        for row in self.assumptions.catalog.gpu_instances:
            if row.gpu != d.gpu or not _pack(d, row.gpus) or not self._fits(d, row.gpu_mem_gb):
                continue
            if jurisdictions and not self.regions.allowed(row.region, jurisdictions):
                continue
            priced = self._cloud(d, cap, row)
            if priced is not None:
                yield priced

    def _cloud(self, d: Deployment, cap: Capacity, row: GpuInstance) -> Plan | None:
        if row.id not in self._row_prices:
            self._row_prices[row.id] = self._row_price(row)
        priced = self._row_prices[row.id]
        if priced is None:
            return None
        monthly, basis, refs = priced
        return Plan(deployment=d, capacity=cap, unit_id=row.id, unit_name=f"{row.provider} {row.sku}",
                    unit_gpus=row.gpus, pack=_pack(d, row.gpus), unit_monthly=monthly, unit_basis=basis,
                    region=row.region, owned=False, refs=refs)

    def _row_price(self, row: GpuInstance) -> tuple[Decimal, str, tuple[SourceRef, ...]] | None:
        """A row's monthly price at the chosen provisioning model, once per run (rows serve many deployments)."""
        wanted = self.provisioning
        ref = self.assumptions.entry_ref("gpu_instances", row.id, row.as_of, row.unsourced)
        if row.pricing == wanted:
            monthly = row.hourly_usd * self.hours
            basis = f"{row.sku} in {row.cloud_region} at {rate(row.hourly_usd)}/h {wanted} x {num(self.hours)} h"
            refs: tuple[SourceRef, ...] = (ref,)
        elif row.pricing == "on_demand" and wanted in _DISCOUNT and not self._has_row(row, wanted):
            if wanted == "spot" and row.provider not in _SELLS_SPOT:
                return None
            discount = self.assumptions.value(_DISCOUNT[wanted])
            monthly = row.hourly_usd * (1 - discount) * self.hours
            basis = (f"{row.sku} in {row.cloud_region} at {rate(row.hourly_usd)}/h on-demand x (1 - "
                     f"{num(discount * 100)}% {wanted} discount) x {num(self.hours)} h")
            refs = (ref, self.assumptions.ref(_DISCOUNT[wanted]))
        else:
            return None
        return monthly, basis, refs

    def _has_row(self, row: GpuInstance, pricing: str) -> bool:
        return (row.provider, row.sku, row.cloud_region, pricing) in self._rows

    def _owned(self, d: Deployment, cap: Capacity, server: OnPremServer) -> Plan:
        a = self.assumptions
        months = a.value("onprem_amortisation_months")
        pue, kwh = a.value("onprem_pue"), a.value("onprem_electricity_usd_per_kwh")
        colo, support = a.value("onprem_colocation_usd_per_kw_month"), a.value("onprem_support_share_per_year")
        capex = server.capex_usd
        monthly = (capex / months + server.power_kw * pue * self.hours * kwh + server.power_kw * colo
                   + capex * support / 12)
        basis = (f"{server.name}: {usd(capex)} over {num(months)} months + {num(server.power_kw)} kW x PUE {num(pue)}"
                 f" x {num(self.hours)} h x {rate(kwh)}/kWh + {num(server.power_kw)} kW x {usd(colo)}/kW-month"
                 f" colocation + {num(support * 100)}%/yr support")
        refs = (a.entry_ref("on_prem_servers", server.id, server.as_of, server.unsourced),
                *(a.ref(i) for i in ("onprem_amortisation_months", "onprem_pue", "onprem_electricity_usd_per_kwh",
                                     "onprem_colocation_usd_per_kw_month", "onprem_support_share_per_year")))
        return Plan(deployment=d, capacity=cap, unit_id=server.id, unit_name=server.name, unit_gpus=server.gpus,
                    pack=_pack(d, server.gpus), unit_monthly=monthly, unit_basis=basis, region=ON_PREM,
                    owned=True, refs=refs)

    # ------------------------------------------------------------------ sizing
    def replica_tok_s(self, plan: Plan) -> Decimal:
        return plan.capacity.tok_s * self.util

    def size(self, plan: Plan, daily_tokens: Decimal) -> Fleet:
        per_replica = self.replica_tok_s(plan)
        peak = daily_tokens / SECONDS_PER_DAY * self.peak_ratio
        needed = max(1, math.ceil(peak / per_replica))
        if self.autoscaling and not plan.owned:
            average = daily_tokens / SECONDS_PER_DAY / per_replica * self.headroom
            units = (max(Decimal(1), average) + self.spare) / plan.pack
        else:
            units = Decimal(math.ceil((needed + self.spare) / plan.pack))
        nodes = math.ceil(units * plan.unit_gpus / GPUS_PER_NODE)
        return Fleet(plan=plan, units=units, replicas_needed=needed, spare=self.spare, peak_tok_s=peak,
                     nodes=nodes)

    def steps(self, plan: Plan, lo: Decimal, hi: Decimal, limit: int) -> list[Decimal] | None:
        """Volumes in (lo, hi] where this plan's cost jumps or bends; None when more than ``limit``."""
        per_replica_day = self.replica_tok_s(plan) * SECONDS_PER_DAY
        if self.autoscaling and not plan.owned:
            # bends where the average reaches one replica; node count steps where units x gpus / 8 is whole
            per = per_replica_day / self.headroom
            points = [per]
            first = math.floor((max(Decimal(1), lo / per) + self.spare) * plan.unit_gpus / plan.pack / GPUS_PER_NODE)
            n = first + 1
            while True:
                replicas = Decimal(n * GPUS_PER_NODE) * plan.pack / plan.unit_gpus - self.spare
                v = replicas * per
                if v > hi:
                    break
                points.append(v)
                if len(points) > limit:
                    return None
                n += 1
            return [p for p in points if lo < p <= hi]
        step = per_replica_day / self.peak_ratio  # volume served by one more replica
        points = []
        # Units change when replicas + spare pass a multiple of the pack (every replica when it spans units).
        pack = max(plan.pack, Decimal(1))
        j = max(1, math.floor((lo / step + self.spare) / pack))
        while True:
            replicas = j * pack - self.spare
            if replicas >= 1:
                v = replicas * step
                if v > hi:
                    break
                if v > lo:
                    points.append(v)
                    if len(points) > limit:
                        return None
            j += 1
        return points

    # ------------------------------------------------------------------ line items
    def gpu_line(self, fleet: Fleet, category: str, what: str = "") -> LineItem:
        plan = fleet.plan
        d = plan.deployment
        monthly = cents(fleet.units * plan.unit_monthly * self.gpu_factor)
        unit_cost = plan.unit_monthly * self.gpu_factor
        factor = "" if self.gpu_factor == 1 else f" x {num(self.gpu_factor)} GPU price factor"
        if self.autoscaling and not plan.owned:
            sizing = (f"autoscaled: average {num(fleet.peak_tok_s / self.peak_ratio)} tokens/s / "
                      f"({num(plan.capacity.tok_s)} x {num(self.util * 100)}%) x {num(self.headroom)} headroom"
                      f" + {fleet.spare} spare = {num(fleet.units * plan.pack)} replica(s) on average")
        else:
            sizing = (f"peak {num(fleet.peak_tok_s)} tokens/s / ({num(plan.capacity.tok_s)} tokens/s x "
                      f"{num(self.util * 100)}% utilisation) = {fleet.replicas_needed} replica(s) + {fleet.spare} spare"
                      f", {num(plan.pack)} replica(s) per unit")
        where = "owned" if plan.owned else plan.region
        basis = (f"{what}{num(fleet.units)} x {plan.unit_name} ({where}) x {usd(unit_cost)}/month{factor}"
                 f" [{plan.unit_basis}]; {d.model} {d.precision} on {d.gpus} x {d.gpu} per replica; {sizing};"
                 f" capacity {plan.capacity.basis}")
        inputs = (self.assumptions.entry_ref("deployments", d.id, d.as_of, d.unsourced), *plan.refs[1:],
                  self.assumptions.ref("utilisation_target"), self.assumptions.ref("gpu_memory_usable_share"))
        if fleet.spare:
            inputs += (self.assumptions.ref("redundancy_spare_replicas"),)
        if self.autoscaling and not plan.owned:
            inputs += (self.assumptions.ref("autoscale_headroom"),)
        return LineItem(category=category, monthly_usd=monthly, basis=basis, source=plan.refs[0], inputs=inputs)

    def fte(self, nodes: int, base_item: str) -> Decimal:
        needed = self.assumptions.value(base_item) + self.assumptions.value("fte_per_node") * nodes
        if self.profile.workload.availability == "24x7":
            needed = max(needed, self.assumptions.value("oncall_min_fte"))
        return needed

    def staffing_line(self, nodes: int, base_item: str) -> LineItem:
        a = self.assumptions
        fte = self.fte(nodes, base_item)
        annual, loaded = a.value("engineer_annual_usd"), a.value("loaded_cost_multiplier")
        on_staff = Decimal(self.profile.team.ml_infra_engineers)
        need = (f"max({num(a.value(base_item))} base + {num(a.value('fte_per_node'))} x {nodes} node(s)"
                + (f", {num(a.value('oncall_min_fte'))} on-call minimum for 24x7)"
                   if self.profile.workload.availability == "24x7" else ")") + f" = {num(fte)} FTE")
        if self.profile.assumptions.staffing == "incremental":
            counted = max(Decimal(0), fte - on_staff)
            basis = (f"{need}; minus {num(on_staff)} on staff = {num(counted)} new FTE x {usd(annual)}/yr x "
                     f"{num(loaded)} loaded / 12 (incremental: staff on hand is sunk)")
        else:
            counted = fte
            basis = f"{need} x {usd(annual)}/yr x {num(loaded)} loaded / 12"
        refs: tuple[SourceRef, ...] = (a.ref("fte_per_node"), a.ref("engineer_annual_usd"),
                                       a.ref("loaded_cost_multiplier"))
        if self.profile.workload.availability == "24x7":
            refs += (a.ref("oncall_min_fte"),)
        return LineItem(category="staffing", monthly_usd=cents(counted * annual * loaded / 12), basis=basis,
                        source=a.ref(base_item), inputs=refs)

    def ops_line(self, nodes: int) -> LineItem:
        base = self.assumptions.value("ops_overhead_monthly_usd")
        per_node = self.assumptions.value("ops_overhead_per_node_monthly_usd")
        return LineItem(
            category="ops_overhead",
            monthly_usd=cents(base + per_node * nodes),
            basis=f"{usd(base)}/month + {usd(per_node)}/node-month x {nodes} node(s): monitoring, storage, "
                  "image scanning and patch tooling",
            source=self.assumptions.ref("ops_overhead_monthly_usd"),
            inputs=(self.assumptions.ref("ops_overhead_per_node_monthly_usd"),),
        )
