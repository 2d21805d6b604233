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
    source: str
    as_of: str
    # secondary: quoted from the provider through a third party; unsourced: a planning figure.
    secondary: bool = False
    unsourced: bool = False
    notes: str = ""


class CatalogMeta(_Data, frozen=True, kw_only=True):
    id: Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")]
    title: str
    description: str
    as_of: str
    preset: bool = False
    currency: str = "USD"
    hours_per_month: Decimal = Decimal(730)
    days_per_month: Decimal = Decimal(30)


class Platform(_Sourced, frozen=True, kw_only=True):
    """A managed-API vendor an organisation signs with, and its compliance facts."""

    id: str
    name: str
    baa: YesNo
    baa_plan: str = ""
    # Only where the vendor publishes a charge for signing a BAA; otherwise no cost is invented.
    baa_monthly_usd: Decimal | None = None
    fedramp: Literal["high", "moderate", "none", "unknown"] = "unknown"
    zero_data_retention: Literal["yes", "by_arrangement", "no", "unknown"] = "unknown"
    eu_data_boundary: YesNo = "unknown"


class ManagedOffering(_Sourced, frozen=True, kw_only=True):
    """A model on a platform in one deployment type; prices are USD per 1M tokens."""

    id: str
    model: str  # the model's own id, shared by its offerings on several platforms
    provider: str  # who makes the model (openai, anthropic, google, meta, deepseek, ...)
    platform: str  # Platform.id: who the organisation contracts with
    capability: Capability
    deployment: DeploymentType = "global"
    # Region codes (rules/regions.toml) where processing is pinned; () = no residency commitment.
    regions: tuple[str, ...] = ()
    input_per_1m: Decimal
    output_per_1m: Decimal
    cached_input_per_1m: Decimal | None = None
    batch_input_per_1m: Decimal | None = None
    batch_output_per_1m: Decimal | None = None
    open_weights: bool = False
    # Caveats a reviewer must see when this offering is chosen; they reach the risks.
    caveats: str = ""


class GpuInstance(_Sourced, frozen=True, kw_only=True):
    """A cloud GPU SKU in one region at one pricing model; ``hourly_usd`` is the whole instance."""

    id: str
    provider: str
    sku: str
    gpu: str
    gpus: Annotated[int, msgspec.Meta(ge=1)]
    gpu_mem_gb: Decimal  # per GPU
    region: str  # a code from rules/regions.toml
    cloud_region: str  # the provider's own name, e.g. us-east-1
    pricing: Pricing = "on_demand"
    hourly_usd: Decimal


class ServingPoint(_Data, frozen=True, kw_only=True):
    """One published measurement: tokens/s of one replica at an input/output length and concurrency.

    ``total_tok_s`` counts input + output tokens (as API bills do). ``offline_max`` marks a
    maximum-load figure with no latency limit: an upper bound, used only without a latency need.
    """

    isl: Annotated[int, msgspec.Meta(ge=1)]
    osl: Annotated[int, msgspec.Meta(ge=1)]
    concurrency: Annotated[int, msgspec.Meta(ge=1)] | None = None
    total_tok_s: Decimal
    ttft_ms: Decimal | None = None
    ttft_stat: str = ""
    itl_ms: Decimal | None = None
    itl_stat: str = ""
    offline_max: bool = False
    source: str
    as_of: str
    derivation: str = ""
    secondary: bool = False

    @property
    def output_share(self) -> Decimal:
        return Decimal(self.osl) / Decimal(self.isl + self.osl)


class Deployment(_Data, frozen=True, kw_only=True):
    """An open-weight model served on a GPU type; one replica uses ``gpus`` GPUs."""

    id: str
    model: str
    capabilities: tuple[Capability, ...]
    precision: str
    engine: str
    gpu: str
    gpus: Annotated[int, msgspec.Meta(ge=1)]
    weights_gb: Decimal
    memory_source: str
    points: tuple[ServingPoint, ...]
    # Where the open model trails the managed tier, the benchmark evidence; it becomes a finding.
    quality_gap: str = ""
    as_of: str
    unsourced: bool = False
    notes: str = ""


class OnPremServer(_Sourced, frozen=True, kw_only=True):
    """An owned GPU server: capital cost and power draw, priced over an amortisation period."""

    id: str
    name: str
    gpu: str
    gpus: Annotated[int, msgspec.Meta(ge=1)]
    gpu_mem_gb: Decimal  # per GPU
    capex_usd: Decimal
    power_kw: Decimal


class Assumption(_Sourced, frozen=True, kw_only=True):
    """A figure the model needs; ``min``/``max`` bound caller overrides, ``low``/``high`` its band."""

    id: str
    title: str
    value: Decimal
    unit: str
    min: Decimal
    max: Decimal
    low: Decimal | None = None
    high: Decimal | None = None
    band_source: str = ""

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.min <= self.value <= self.max:
            raise ValueError(f"assumption {self.id!r}: value {self.value} outside [{self.min}, {self.max}]")
        for end in (self.low, self.high):
            if end is not None and not self.min <= end <= self.max:
                raise ValueError(f"assumption {self.id!r}: band end {end} outside [{self.min}, {self.max}]")


class Catalog(_Data, frozen=True, kw_only=True, dict=True):  # dict: room for cached lookups
    catalog: CatalogMeta
    platforms: tuple[Platform, ...]
    managed_offerings: tuple[ManagedOffering, ...]
    gpu_instances: tuple[GpuInstance, ...] = ()
    deployments: tuple[Deployment, ...] = ()
    on_prem_servers: tuple[OnPremServer, ...] = ()
    assumptions: tuple[Assumption, ...]

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
        data = msgspec.toml.decode(raw, type=Catalog)
    except msgspec.ValidationError as exc:
        raise ValueError(f"{where}: {exc}") from exc
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
