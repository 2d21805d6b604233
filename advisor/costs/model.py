"""The capacity-based TCO model: pure arithmetic over a catalog, no I/O.

Self-hosting is sized, not looked up: peak tokens/s from the daily volume and the
peak-to-average ratio, replicas from a deployment's published throughput at a utilisation
target, plus spare replicas, on the cheapest deployment whose model fits in GPU memory.
Managed APIs are priced at the blended input/output rate of the cheapest model of the needed
capability that the required regions allow. Hybrid sends the simple share to a small
self-hosted model and the rest to a managed model.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal
from typing import Final

import msgspec

from advisor.costs.assumptions import Resolved
from advisor.costs.catalog import Deployment, GpuInstance, ManagedModel
from advisor.domain.profile import Capability, OptionName, Profile
from advisor.domain.recommendation import LineItem, SourceRef

CENT: Final = Decimal("0.01")
MILLION: Final = Decimal(1_000_000)
SECONDS_PER_DAY: Final = Decimal(86_400)
CAPABILITY_ORDER: Final[tuple[Capability, ...]] = ("small", "mid", "frontier")
# Weeks that run in parallel (the longest counts) versus build work that follows them.
LEAD_WEEKS: Final = frozenset(
    {
        "weeks_hiring",
        "weeks_cloud_provisioning",
        "weeks_procurement_with_relationship",
        "weeks_procurement_without_relationship",
        "weeks_baa_legal",
    }
)


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def usd(value: Decimal) -> str:
    """Format a monthly amount for a basis sentence: $1,234.56."""
    return f"${cents(value):,}"


def rate(value: Decimal) -> str:
    """Format a unit price exactly as the catalog gives it: $10.76654, $0.195."""
    text = f"{value.normalize():,f}"
    return f"${text}" if "." in text else f"${text}.00"


def num(value: Decimal | int | float) -> str:
    d = Decimal(value) if not isinstance(value, Decimal) else value
    if d == d.to_integral_value():
        return f"{int(d):,}"
    return f"{d.quantize(Decimal('0.01')).normalize():,f}"


class OptionPrice(msgspec.Struct, frozen=True, kw_only=True):
    """An option's priced line items, or why it could not be priced."""

    line_items: tuple[LineItem, ...]
    configuration: str
    weeks: int | None = None
    weeks_basis: str = ""
    unavailable_reason: str | None = None

    @property
    def monthly_usd(self) -> Decimal | None:
        if self.unavailable_reason is not None:
            return None
        return sum((item.monthly_usd for item in self.line_items), Decimal(0))


class Sizing(msgspec.Struct, frozen=True, kw_only=True):
    deployment: Deployment
    instance: GpuInstance
    replicas: int
    spare: int
    monthly_usd: Decimal
    line: LineItem


class PricingRun:
    """Prices the three options for one profile against one catalog's resolved assumptions."""

    def __init__(self, profile: Profile, assumptions: Resolved) -> None:
        self.profile = profile
        self.a = assumptions
        self.catalog = assumptions.catalog
        self.hours = self.catalog.catalog.hours_per_month
        self.days = self.catalog.catalog.days_per_month
        self.output_share = Decimal(repr(profile.workload.output_share))
        # A run asks for the same capability's candidates several times (facts, managed, hybrid).
        self._candidates: dict[Capability, list[ManagedModel]] = {}
        self._deployments: dict[Capability, list[tuple[Deployment, GpuInstance]]] = {}

    # ------------------------------------------------------------------ managed side
    def managed_candidates(self, capability: Capability) -> list[ManagedModel]:
        found = self._candidates.get(capability)
        if found is None:
            regions = set(self.profile.compliance.data_residency)
            found = [m for m in self.catalog.managed_models
                     if m.capability == capability and (not regions or regions.issubset(m.regions))]
            self._candidates[capability] = found
        return found

    def blended_per_1m(self, model: ManagedModel) -> Decimal:
        out = self.output_share
        return model.input_per_1m * (1 - out) + model.output_per_1m * out

    def managed_model(self, capability: Capability) -> ManagedModel | None:
        candidates = self.managed_candidates(capability)
        return min(candidates, key=self.blended_per_1m) if candidates else None

    def token_line(self, model: ManagedModel, daily_tokens: Decimal, what: str) -> LineItem:
        monthly_tokens = daily_tokens * self.days
        blended = self.blended_per_1m(model)
        out = self.output_share
        basis = (
            f"{what}{num(daily_tokens)} tokens/day x {num(self.days)} days = {num(monthly_tokens)} tokens/month"
            f" x {rate(blended)}/1M blended ({num((1 - out) * 100)}% input at {rate(model.input_per_1m)}/1M,"
            f" {num(out * 100)}% output at {rate(model.output_per_1m)}/1M) on {model.id}"
        )
        return LineItem(
            category="managed_tokens",
            monthly_usd=cents(monthly_tokens / MILLION * blended),
            basis=basis,
            source=self.a.entry_ref("managed_models", model.id, model.as_of, model.unsourced),
            inputs=(self._output_share_ref(),),
        )

    @staticmethod
    def _output_share_ref() -> SourceRef:
        # The caller's figure (default 0.25, i.e. 3 input tokens per output token: an assumption).
        return SourceRef(entry="profile.workload.output_share", as_of="request", assumption=True)

    # ------------------------------------------------------------------ self-hosted side
    def price_factor(self) -> tuple[Decimal, str, list[SourceRef]]:
        c = self.profile.compliance
        mode = self.profile.infrastructure.gpu_procurement
        if c.air_gapped or "government" in c.regimes:
            mode = "on_prem"
        if mode == "cloud_reserved":
            d = self.a.value("reserved_discount")
            return 1 - d, f" x (1 - {num(d * 100)}% reserved discount)", [self.a.ref("reserved_discount")]
        if mode == "on_prem":
            f = self.a.value("on_prem_cost_factor")
            return f, f" x {num(f)} on-premise amortised factor", [self.a.ref("on_prem_cost_factor")]
        return Decimal(1), " on-demand", []

    def fits(self, deployment: Deployment, instance: GpuInstance) -> bool:
        return deployment.weights_gb <= instance.gpu_mem_gb * self.a.value("gpu_memory_usable_share")

    def deployments_for(self, capability: Capability) -> list[tuple[Deployment, GpuInstance]]:
        """Deployments that serve ``capability`` (else the most capable ones) and fit in GPU memory.

        Serving a lower capability than asked is a gap the rule RTE-FRONTIER-GAP reports as a risk.
        """
        found = self._deployments.get(capability)
        if found is None:
            found = []
            for wanted in reversed(CAPABILITY_ORDER[: CAPABILITY_ORDER.index(capability) + 1]):
                serving = [d for d in self.catalog.deployments if wanted in d.capabilities]
                if serving:
                    pairs = [(d, self.catalog.instance(d.instance)) for d in serving]
                    found = [(d, instance) for d, instance in pairs if self.fits(d, instance)]
                    break
            self._deployments[capability] = found
        return found

    def replicas_for(self, deployment: Deployment, daily_tokens: Decimal) -> tuple[int, Decimal]:
        peak = daily_tokens / SECONDS_PER_DAY * Decimal(repr(self.profile.workload.peak_to_average))
        capacity = deployment.throughput_tok_s * self.a.value("utilisation_target")
        return max(1, math.ceil(peak / capacity)), peak

    def size(self, capability: Capability, daily_tokens: Decimal, category: str) -> Sizing | None:
        """The cheapest deployment that fits in memory and serves the peak, as a GPU line item."""
        factor, factor_text, factor_refs = self.price_factor()
        spare = int(self.a.value("redundancy_spare_replicas"))
        best: tuple[Decimal, Deployment, GpuInstance, int, Decimal] | None = None
        for d, instance in self.deployments_for(capability):
            needed, peak = self.replicas_for(d, daily_tokens)
            monthly = cents((needed + spare) * self.hours * instance.hourly_usd * factor)
            if best is None or monthly < best[0]:
                best = (monthly, d, instance, needed, peak)
        if best is None:
            return None
        monthly, d, instance, needed, peak = best
        util = self.a.value("utilisation_target")
        basis = (
            f"{needed + spare} x {instance.id} x {num(self.hours)} h x {rate(instance.hourly_usd)}/h{factor_text}"
            f" ({d.model} {d.precision}; peak {num(peak)} tokens/s / ({num(d.throughput_tok_s)} tokens/s"
            f" x {num(util * 100)}% utilisation) = {needed} replica(s) + {spare} spare)"
        )
        line = LineItem(
            category=category,
            monthly_usd=monthly,
            basis=basis,
            source=self.a.entry_ref("gpu_instances", instance.id, instance.as_of, instance.unsourced),
            inputs=(
                self.a.entry_ref("deployments", d.id, d.as_of, d.unsourced),
                self.a.ref("utilisation_target"),
                self.a.ref("redundancy_spare_replicas"),
                self.a.ref("gpu_memory_usable_share"),
                *factor_refs,
            ),
        )
        return Sizing(deployment=d, instance=instance, replicas=needed + spare, spare=spare, monthly_usd=monthly,
                      line=line)

    def staffing_line(self, fte_item: str) -> LineItem:
        fte = self.a.value(fte_item)
        annual = self.a.value("engineer_annual_usd")
        loaded = self.a.value("loaded_cost_multiplier")
        on_staff = Decimal(self.profile.team.ml_infra_engineers)
        refs = (self.a.ref("engineer_annual_usd"), self.a.ref("loaded_cost_multiplier"))
        if self.profile.assumptions.staffing == "incremental":
            counted = max(Decimal(0), fte - on_staff)
            basis = (f"max(0, {num(fte)} FTE needed - {num(on_staff)} on staff) = {num(counted)} new FTE"
                     f" x {usd(annual)}/yr x {num(loaded)} loaded / 12 (incremental: staff on hand is sunk)")
        else:
            counted = fte
            basis = f"{num(fte)} FTE x {usd(annual)}/yr x {num(loaded)} loaded / 12"
        return LineItem(
            category="staffing",
            monthly_usd=cents(counted * annual * loaded / 12),
            basis=basis,
            source=self.a.ref(fte_item),
            inputs=refs,
        )

    def overhead_line(self, item: str) -> LineItem:
        value = self.a.value(item)
        entry = self.a.entry(item)
        return LineItem(
            category=item.removesuffix("_monthly_usd"),
            monthly_usd=cents(value),
            basis=f"{entry.title}: {usd(value)}/month",
            source=self.a.ref(item),
        )

    def weeks(self, items: Iterable[str]) -> tuple[int, str]:
        lead = {i: self.a.value(i) for i in items if i in LEAD_WEEKS}
        build = {i: self.a.value(i) for i in items if i not in LEAD_WEEKS}
        total = (max(lead.values()) if lead else Decimal(0)) + sum(build.values(), Decimal(0))
        parts = []
        if lead:
            names = ", ".join(f"{k.removeprefix('weeks_')} {num(v)}" for k, v in lead.items())
            parts.append(f"max({names})" if len(lead) > 1 else names)
        parts += [f"{k.removeprefix('weeks_')} {num(v)}" for k, v in build.items()]
        return math.ceil(total), (" + ".join(parts) + f" = {num(total)} weeks") if parts else "no lead time"

    # ------------------------------------------------------------------ the three options
    def price(self, option: OptionName, cost_items: list[str], week_items: list[str]) -> OptionPrice:
        w = self.profile.workload
        volume = Decimal(w.daily_tokens)
        lines: list[LineItem] = []
        if option == "managed":
            model = self.managed_model(w.capability)
            if model is None:
                return self._unavailable_managed(w.capability)
            lines.append(self.token_line(model, volume, ""))
            configuration = f"managed API: {model.id}"
        elif option == "self_hosted":
            sizing = self.size(w.capability, volume, "gpu_compute")
            if sizing is None:
                return OptionPrice(line_items=(), configuration="none",
                                   unavailable_reason="no catalog deployment fits in GPU memory")
            lines += [sizing.line, self.staffing_line("fte_self_hosted")]
            configuration = f"self-hosted: {sizing.replicas} x {sizing.instance.id} ({sizing.deployment.id})"
        else:
            share = Decimal(repr(w.simple_task_share))
            model = self.managed_model(w.capability)
            sizing = self.size("small", volume * share, "gpu_compute_small_model")
            if model is None:
                return self._unavailable_managed(w.capability)
            if sizing is None:
                return OptionPrice(line_items=(), configuration="none",
                                   unavailable_reason="no small-model deployment fits in GPU memory")
            lines += [
                sizing.line,
                self.token_line(model, volume * (1 - share), f"{num((1 - share) * 100)}% routed to managed: "),
                self.staffing_line("fte_hybrid"),
            ]
            configuration = (f"hybrid: {num(share * 100)}% on {sizing.replicas} x {sizing.instance.id}"
                             f" ({sizing.deployment.id}), rest on {model.id}")
        lines += [self.overhead_line(item) for item in cost_items]
        weeks, weeks_basis = self.weeks(week_items)
        return OptionPrice(line_items=tuple(lines), configuration=configuration, weeks=weeks,
                           weeks_basis=weeks_basis)

    def _unavailable_managed(self, capability: Capability) -> OptionPrice:
        regions = ", ".join(self.profile.compliance.data_residency) or "any region"
        return OptionPrice(
            line_items=(),
            configuration="none",
            unavailable_reason=f"no {capability} managed model in catalog {self.catalog.catalog.id} "
            f"is processed in {regions}",
        )
