"""Pricing catalogs: dated data files in ``rules/catalogs/`` where every figure names its source.

A catalog is data, not code: review boards change prices by editing a TOML file, and the
digest of that file is recorded with every recommendation priced from it. Money is Decimal,
written as strings in the files, so no price is ever rounded by a binary float.

What a catalog holds, and why in this shape:
- ``platforms``: who an organisation contracts with for a managed API (OpenAI, Azure OpenAI,
  Bedrock, ...), with the compliance facts that are per vendor (BAA, FedRAMP, retention).
- ``managed_offerings``: one row per model, platform and deployment type (global, data zone,
  regional), because the same model costs more where its processing is pinned to a region.
- ``gpu_instances``: one row per SKU, region and pricing model; deployments name a GPU type,
  not a SKU, so every SKU with that GPU (in any allowed region) is a candidate.
- ``deployments``: an open-weight model served on a GPU type, with the published throughput
  and latency points it is sized from.
- ``on_prem_servers``: owned hardware, priced from capital cost, power and space (air-gapped).
- ``assumptions``: named planning figures, each sourced or labelled, each with the range a
  caller may override it within and, where documented, a low/high band for sensitivity.
"""

from __future__ import annotations

import functools
import hashlib
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal

import msgspec

from advisor.domain.profile import Capability

Pricing = Literal["on_demand", "reserved_1y", "reserved_3y", "spot"]
YesNo = Literal["yes", "no", "unknown"]
DeploymentType = Literal["global", "data_zone", "regional", "government"]

# msgspec cannot bound Decimals, so each struct checks its own fields' signs after decoding.
_POSITIVE = frozenset({"hours_per_month", "days_per_month", "gpu_mem_gb", "hourly_usd", "weights_gb",
                       "total_tok_s", "capex_usd", "power_kw"})


class _Data(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    def __post_init__(self) -> None:
        for name in self.__struct_fields__:
            value = getattr(self, name)
            if isinstance(value, Decimal) and (
                not value.is_finite() or value < 0 or (name in _POSITIVE and value == 0)
            ):
                bound = "> 0" if name in _POSITIVE else ">= 0"
                raise ValueError(f"`{name}` must be a finite number {bound}, got {value}")


class _Sourced(_Data, frozen=True, kw_only=True):
    source: Annotated[str, msgspec.Meta(description=(
        "Where the figures come from, verbatim from the research (page, file or document); `UNSOURCED: <reason>` "
        "for a planning figure"))]
    as_of: Annotated[str, msgspec.Meta(description="The date of the figures")]
    # secondary: quoted from the provider through a third party; unsourced: a planning figure.
    secondary: Annotated[bool, msgspec.Meta(description=(
        "Quoted from the provider through a third party rather than read from its own page"))] = False
    unsourced: Annotated[bool, msgspec.Meta(description=(
        "A planning figure with no public source: treat it as an input to check or override"))] = False
    notes: Annotated[str, msgspec.Meta(description=(
        "How a value was derived, and nearby evidence"))] = ""


class CatalogMeta(_Data, frozen=True, kw_only=True):
    """What the catalog is."""

    id: Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$", description=(
        "The catalog's id, as `assumptions.catalog` names it"))]
    title: Annotated[str, msgspec.Meta(description="Its title")]
    description: Annotated[str, msgspec.Meta(description="What it is built from")]
    as_of: Annotated[str, msgspec.Meta(description="The date its prices are in force")]
    preset: Annotated[bool, msgspec.Meta(description=(
        "A named preset (e.g. a source article's own figures) kept for comparison, not sourced prices"))] = False
    currency: Annotated[str, msgspec.Meta(description="Currency of every amount")] = "USD"
    hours_per_month: Annotated[Decimal, msgspec.Meta(description=(
        "Hours per month that hourly prices are multiplied by"))] = Decimal(730)
    days_per_month: Annotated[Decimal, msgspec.Meta(description=(
        "Days per month that daily volumes are multiplied by"))] = Decimal(30)


class Platform(_Sourced, frozen=True, kw_only=True):
    """A managed-API vendor an organisation signs with, and its compliance facts."""

    id: Annotated[str, msgspec.Meta(description="The platform's id, as offerings name it (e.g. `bedrock`)")]
    name: Annotated[str, msgspec.Meta(description="Its name")]
    baa: Annotated[YesNo, msgspec.Meta(description=(
        "Whether its published terms offer a HIPAA Business Associate Agreement; only `yes` platforms are priced "
        "for HIPAA data"))]
    baa_plan: Annotated[str, msgspec.Meta(description="Which plan or tier signs the BAA")] = ""
    # Only where the vendor publishes a charge for signing a BAA; otherwise no cost is invented.
    baa_monthly_usd: Annotated[Decimal | None, msgspec.Meta(description=(
        "A published monthly charge for the BAA; null where none is published (no cost is invented)"))] = None
    fedramp: Annotated[Literal["high", "moderate", "none", "unknown"], msgspec.Meta(description=(
        "Its FedRAMP authorisation level"))] = "unknown"
    zero_data_retention: Annotated[Literal["yes", "by_arrangement", "no", "unknown"], msgspec.Meta(description=(
        "Whether prompts and outputs can be kept from being retained"))] = "unknown"
    eu_data_boundary: Annotated[YesNo, msgspec.Meta(description=(
        "Whether it offers an EU data boundary"))] = "unknown"


class ManagedOffering(_Sourced, frozen=True, kw_only=True):
    """A model on a platform in one deployment type; prices are USD per 1M tokens."""

    id: Annotated[str, msgspec.Meta(description=(
        "`<platform>/<model>` for the global offering, `<platform>/<model>@<region or zone>` where processing is "
        "pinned; `workload.current_model` may name it"))]
    model: Annotated[str, msgspec.Meta(description=(
        "The model's own id, shared by its offerings on several platforms"))]  # shared across platforms
    provider: Annotated[str, msgspec.Meta(description=(
        "Who makes the model (openai, anthropic, google, meta, ...)"))]  # the model maker
    platform: Annotated[str, msgspec.Meta(description=(
        "The platform (`platforms[].id`) the organisation contracts with"))]  # Platform.id
    capability: Annotated[Capability, msgspec.Meta(description="The model tier it is priced for")]
    deployment: Annotated[DeploymentType, msgspec.Meta(description=(
        "`global`, `data_zone` (a multi-country or multi-region zone), `regional` (one cloud region or country) or "
        "`government` (sovereign government cloud, offered only to government work)"))] = "global"
    # Region codes (rules/regions.toml) where processing is pinned; () = no residency commitment.
    regions: Annotated[tuple[str, ...], msgspec.Meta(description=(
        "Region codes (GET /regions) processing can be pinned to, the customer choosing one at this price; "
        "empty: no residency commitment"))] = ()
    input_per_1m: Annotated[Decimal, msgspec.Meta(description="USD per 1M input tokens at list price")]
    output_per_1m: Annotated[Decimal, msgspec.Meta(description="USD per 1M output tokens at list price")]
    cached_input_per_1m: Annotated[Decimal | None, msgspec.Meta(description=(
        "USD per 1M input tokens read from a prompt cache; null where not published"))] = None
    batch_input_per_1m: Annotated[Decimal | None, msgspec.Meta(description=(
        "USD per 1M input tokens through the batch API; null where not published"))] = None
    batch_output_per_1m: Annotated[Decimal | None, msgspec.Meta(description=(
        "USD per 1M output tokens through the batch API; null where not published"))] = None
    open_weights: Annotated[bool, msgspec.Meta(description=(
        "The model's weights are open, so it could also be self-hosted"))] = False
    # Caveats a reviewer must see when this offering is chosen; they reach the risks.
    caveats: Annotated[str, msgspec.Meta(description=(
        "What a reviewer must see when it is chosen (agreements needed, surcharges, deprecations); listed in the "
        "risks"))] = ""


class GpuInstance(_Sourced, frozen=True, kw_only=True):
    """A cloud GPU SKU in one region at one pricing model; ``hourly_usd`` is the whole instance."""

    id: Annotated[str, msgspec.Meta(description="`<provider>/<sku>/<cloud region>/<pricing>`")]
    provider: Annotated[str, msgspec.Meta(description="The cloud that sells it (aws, gcp, azure, lambda, ...)")]
    sku: Annotated[str, msgspec.Meta(description="The provider's instance type")]
    gpu: Annotated[str, msgspec.Meta(description=(
        "Normalised GPU type (e.g. `H100-80GB`), matched against deployments' `gpu`"))]
    gpus: Annotated[int, msgspec.Meta(ge=1, description="GPUs per instance")]
    gpu_mem_gb: Annotated[Decimal, msgspec.Meta(description="Memory per GPU, GB")]  # per GPU
    region: Annotated[str, msgspec.Meta(description=(
        "Region code (GET /regions) it runs in, checked against `compliance.data_residency`"))]
    cloud_region: Annotated[str, msgspec.Meta(description=(
        "The provider's own region name, e.g. us-east-1"))]  # the provider's own name
    pricing: Annotated[Pricing, msgspec.Meta(description=(
        "The pricing model of `hourly_usd`: on_demand, reserved_1y, reserved_3y or spot"))] = "on_demand"
    hourly_usd: Annotated[Decimal, msgspec.Meta(description="USD per hour for the whole instance")]


class ServingPoint(_Data, frozen=True, kw_only=True):
    """One published measurement: tokens/s of one replica at an input/output length and concurrency.

    ``total_tok_s`` counts input + output tokens (as API bills do). ``offline_max`` marks a
    maximum-load figure with no latency limit: an upper bound, used only without a latency need.
    """

    isl: Annotated[int, msgspec.Meta(ge=1, description="Input tokens per request in the measurement")]
    osl: Annotated[int, msgspec.Meta(ge=1, description="Output tokens per request in the measurement")]
    concurrency: Annotated[int, msgspec.Meta(ge=1, description=(
        "Concurrent requests; null where the source gives no single number"))] | None = None
    total_tok_s: Annotated[Decimal, msgspec.Meta(description=(
        "Input + output tokens per second of one replica, counted as API bills count tokens"))]
    ttft_ms: Annotated[Decimal | None, msgspec.Meta(description=(
        "Published time to first token, ms; compared with `workload.latency_p95_ms`"))] = None
    ttft_stat: Annotated[str, msgspec.Meta(description="Which statistic `ttft_ms` is (p95, mean, median, ...)")] = ""
    itl_ms: Annotated[Decimal | None, msgspec.Meta(description=(
        "Published inter-token latency, ms; null where not published"))] = None
    itl_stat: Annotated[str, msgspec.Meta(description="Which statistic `itl_ms` is")] = ""
    offline_max: Annotated[bool, msgspec.Meta(description=(
        "A maximum-load figure with no latency limit: an upper bound, used only without a latency target"))] = False
    source: Annotated[str, msgspec.Meta(description="Where the measurement is published")]
    as_of: Annotated[str, msgspec.Meta(description="The date of the measurement")]
    derivation: Annotated[str, msgspec.Meta(description=(
        "How `total_tok_s` was derived from the published figure, where it was"))] = ""
    secondary: Annotated[bool, msgspec.Meta(description=(
        "Quoted through a third party rather than read from the source itself"))] = False

    @property
    def output_share(self) -> Decimal:
        return Decimal(self.osl) / Decimal(self.isl + self.osl)


class Deployment(_Data, frozen=True, kw_only=True):
    """An open-weight model served on a GPU type; one replica uses ``gpus`` GPUs."""

    id: Annotated[str, msgspec.Meta(description="The deployment's id")]
    model: Annotated[str, msgspec.Meta(description="The open-weight model served")]
    capabilities: Annotated[tuple[Capability, ...], msgspec.Meta(description=(
        "Every tier the model is credible for, including the tiers below its class"))]
    precision: Annotated[str, msgspec.Meta(description="Weight precision served (e.g. fp8)")]
    engine: Annotated[str, msgspec.Meta(description="The inference engine the points were measured on")]
    gpu: Annotated[str, msgspec.Meta(description="Normalised GPU type it runs on")]
    gpus: Annotated[int, msgspec.Meta(ge=1, description="GPUs per replica (the tensor-parallel size)")]
    weights_gb: Annotated[Decimal, msgspec.Meta(description=(
        "Memory the weights need, GB; must fit in the replica's usable GPU memory"))]
    memory_source: Annotated[str, msgspec.Meta(description="Where `weights_gb` comes from")]
    points: Annotated[tuple[ServingPoint, ...], msgspec.Meta(description=(
        "Published throughput and latency measurements that capacity is sized from"))]
    # Where the open model trails the managed tier, the benchmark evidence; it becomes a finding.
    quality_gap: Annotated[str, msgspec.Meta(description=(
        "Benchmark evidence that the open model trails the managed tier; empty where the sources have none"))] = ""
    as_of: Annotated[str, msgspec.Meta(description="The date of the figures")]
    unsourced: Annotated[bool, msgspec.Meta(description="A planning figure with no public source")] = False
    notes: Annotated[str, msgspec.Meta(description="How values were derived")] = ""


class OnPremServer(_Sourced, frozen=True, kw_only=True):
    """An owned GPU server: capital cost and power draw, priced over an amortisation period."""

    id: Annotated[str, msgspec.Meta(description="The server's id")]
    name: Annotated[str, msgspec.Meta(description="Its name")]
    gpu: Annotated[str, msgspec.Meta(description="Normalised GPU type")]
    gpus: Annotated[int, msgspec.Meta(ge=1, description="GPUs per server")]
    gpu_mem_gb: Annotated[Decimal, msgspec.Meta(description="Memory per GPU, GB")]  # per GPU
    capex_usd: Annotated[Decimal, msgspec.Meta(description=(
        "Purchase price in USD, amortised over `onprem_amortisation_months`"))]
    power_kw: Annotated[Decimal, msgspec.Meta(description=(
        "Power draw in kW, priced with PUE, electricity and colocation assumptions"))]


class Assumption(_Sourced, frozen=True, kw_only=True):
    """A figure the model needs; ``min``/``max`` bound caller overrides, ``low``/``high`` its band."""

    id: Annotated[str, msgspec.Meta(description=(
        "The assumption's id, as `assumptions.overrides` and rules' `cost_item`/`weeks_item` name it"))]
    title: Annotated[str, msgspec.Meta(description="What it is")]
    value: Annotated[Decimal, msgspec.Meta(description="The catalog's figure")]
    unit: Annotated[str, msgspec.Meta(description="Its unit")]
    min: Annotated[Decimal, msgspec.Meta(description="Lowest value a caller may override it with")]
    max: Annotated[Decimal, msgspec.Meta(description="Highest value a caller may override it with")]
    low: Annotated[Decimal | None, msgspec.Meta(description=(
        "Low end of its documented band, used for the break-even range; null where none is documented"))] = None
    high: Annotated[Decimal | None, msgspec.Meta(description=(
        "High end of its documented band; null where none is documented"))] = None
    band_source: Annotated[str, msgspec.Meta(description="Where the band comes from")] = ""

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.min <= self.value <= self.max:
            raise ValueError(f"assumption {self.id!r}: value {self.value} outside [{self.min}, {self.max}]")
        for end in (self.low, self.high):
            if end is not None and not self.min <= end <= self.max:
                raise ValueError(f"assumption {self.id!r}: band end {end} outside [{self.min}, {self.max}]")


class Catalog(_Data, frozen=True, kw_only=True, dict=True):  # dict: room for cached lookups
    """A pricing catalog: every price and planning figure the cost model uses, each with its source."""

    catalog: Annotated[CatalogMeta, msgspec.Meta(description="What the catalog is, and its date")]
    platforms: Annotated[tuple[Platform, ...], msgspec.Meta(description=(
        "Managed-API vendors and their per-vendor compliance facts"))]
    managed_offerings: Annotated[tuple[ManagedOffering, ...], msgspec.Meta(description=(
        "One row per model, platform and deployment type"))]
    gpu_instances: Annotated[tuple[GpuInstance, ...], msgspec.Meta(description=(
        "Cloud GPU SKUs, one row per region and pricing model"))] = ()
    deployments: Annotated[tuple[Deployment, ...], msgspec.Meta(description=(
        "Open-weight models served on a GPU type, with published serving points"))] = ()
    on_prem_servers: Annotated[tuple[OnPremServer, ...], msgspec.Meta(description="Owned GPU servers")] = ()
    assumptions: Annotated[tuple[Assumption, ...], msgspec.Meta(description=(
        "Named planning figures with the ranges callers may override them within"))]

    def __post_init__(self) -> None:
        super().__post_init__()
        for kind in ("platforms", "managed_offerings", "gpu_instances", "deployments", "on_prem_servers",
                     "assumptions"):
            ids = [row.id for row in getattr(self, kind)]
            duplicates = sorted({i for i in ids if ids.count(i) > 1})
            if duplicates:
                raise ValueError(f"duplicate {kind} ids {duplicates}")
        platforms = {p.id for p in self.platforms}
        for offering in self.managed_offerings:
            if offering.platform not in platforms:
                raise ValueError(f"offering {offering.id!r} names unknown platform {offering.platform!r}")
        missing = REQUIRED_ASSUMPTIONS - {a.id for a in self.assumptions}
        if missing:
            raise ValueError(f"catalog {self.catalog.id!r} lacks assumptions {sorted(missing)}")

    def platform(self, platform_id: str) -> Platform:
        return self._platforms[platform_id]

    @functools.cached_property
    def _platforms(self) -> dict[str, Platform]:
        return {p.id: p for p in self.platforms}


# Every catalog defines these; the cost model reads them by id and callers may override
# each (within its min/max) through ``assumptions.overrides`` in the profile.
REQUIRED_ASSUMPTIONS = frozenset(
    {
        "utilisation_target",
        "autoscale_headroom",
        "redundancy_spare_replicas",
        "gpu_memory_usable_share",
        "reserved_1y_discount",
        "reserved_3y_discount",
        "spot_discount",
        "engineer_annual_usd",
        "loaded_cost_multiplier",
        "fte_self_hosted",
        "fte_hybrid",
        "fte_per_node",
        "oncall_min_fte",
        "ops_overhead_monthly_usd",
        "ops_overhead_per_node_monthly_usd",
        "onprem_amortisation_months",
        "onprem_pue",
        "onprem_electricity_usd_per_kwh",
        "onprem_colocation_usd_per_kw_month",
        "onprem_support_share_per_year",
        "integration_monthly_usd",
        "lock_in_remediation_monthly_usd",
        "routing_layer_monthly_usd",
        "weeks_managed_integration",
        "weeks_self_hosted_setup",
        "weeks_routing_layer",
        "weeks_hiring",
        "weeks_cloud_provisioning",
        "weeks_procurement_with_relationship",
        "weeks_procurement_without_relationship",
        "weeks_baa_legal",
    }
)


class LoadedCatalog(msgspec.Struct, frozen=True, kw_only=True):
    """A catalog together with the digest of the exact bytes it was read from."""

    data: Catalog
    digest: str
    raw: bytes = b""

    @property
    def id(self) -> str:
        return self.data.catalog.id


def decode_catalog(raw: bytes, where: str = "catalog") -> LoadedCatalog:
    try:
        return _decoded(raw)
    except msgspec.ValidationError as exc:
        raise ValueError(f"{where}: {exc}") from exc


@functools.lru_cache(maxsize=16)
def _decoded(raw: bytes) -> LoadedCatalog:
    """Decoding and checking a catalog costs about 50 ms; the same bytes always give the same frozen catalog.

    So every app a process builds (each test's, a reload), and every kept version read back, shares one
    decode per distinct file content. Keyed by the bytes themselves, so an edited file is decoded afresh;
    a failed decode is not kept (it raises again, with the caller's ``where``).
    """
    data = msgspec.toml.decode(raw, type=Catalog)
    return LoadedCatalog(data=data, digest="sha256:" + hashlib.sha256(raw).hexdigest(), raw=raw)


def load_catalog(path: Path) -> LoadedCatalog:
    return decode_catalog(path.read_bytes(), str(path))


def load_catalogs(directory: Path) -> dict[str, LoadedCatalog]:
    catalogs: dict[str, LoadedCatalog] = {}
    for path in sorted(directory.glob("*.toml")):
        loaded = load_catalog(path)
        if loaded.id in catalogs:
            raise ValueError(f"{path}: duplicate catalog id {loaded.id!r}")
        catalogs[loaded.id] = loaded
    return catalogs
