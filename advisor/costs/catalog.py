"""Pricing catalogs: dated data files in ``rules/catalogs/`` where every figure names its source.

A catalog is data, not code: review boards change prices by editing a TOML file, and the
digest of that file is recorded with every recommendation priced from it. Money is Decimal,
written as strings in the files, so no price is ever rounded by a binary float.
"""

from __future__ import annotations

import functools
import hashlib
from decimal import Decimal
from pathlib import Path
from typing import Annotated

import msgspec

from advisor.domain.profile import Capability

# msgspec cannot bound Decimals, so each struct checks its own fields' signs after decoding.
Positive = Decimal
NonNegative = Decimal
_POSITIVE = frozenset({"hours_per_month", "days_per_month", "gpu_mem_gb", "hourly_usd", "weights_gb",
                       "throughput_tok_s"})


class _Data(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    def __post_init__(self) -> None:
        for name in self.__struct_fields__:
            value = getattr(self, name)
            if isinstance(value, Decimal) and (
                not value.is_finite() or value < 0 or (name in _POSITIVE and value == 0)
            ):
                bound = "> 0" if name in _POSITIVE else ">= 0"
                raise ValueError(f"`{name}` must be a finite number {bound}, got {value}")


class CatalogMeta(_Data, frozen=True):
    id: Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")]
    title: str
    description: str
    as_of: str
    preset: bool = False
    currency: str = "USD"
    hours_per_month: Positive = Decimal(730)
    days_per_month: Positive = Decimal(30)


class ManagedModel(_Data, frozen=True):
    """A managed API model; prices are per 1M tokens."""

    id: str
    provider: str
    capability: Capability
    input_per_1m: NonNegative
    output_per_1m: NonNegative
    source: str
    as_of: str
    # Regions where the provider can keep processing; [] means no residency commitment.
    regions: tuple[str, ...] = ()
    regions_source: str = ""
    unsourced: bool = False
    notes: str = ""


class GpuInstance(_Data, frozen=True):
    id: str
    gpu: str
    gpus: Annotated[int, msgspec.Meta(ge=1)]
    gpu_mem_gb: Positive
    hourly_usd: Positive
    source: str
    as_of: str
    region: str = ""
    unsourced: bool = False
    notes: str = ""


class Deployment(_Data, frozen=True):
    """One self-hosted serving configuration: an open model on an instance at a measured rate."""

    id: str
    model: str
    precision: str
    capabilities: tuple[Capability, ...]
    instance: str
    weights_gb: Positive
    memory_source: str
    throughput_tok_s: Positive  # input + output tokens per second for one replica
    throughput_source: str
    as_of: str
    unsourced: bool = False
    notes: str = ""


class Assumption(_Data, frozen=True):
    """A figure the model needs; sourced where a source exists, otherwise marked unsourced."""

    id: str
    title: str
    value: NonNegative
    unit: str
    source: str
    as_of: str
    unsourced: bool = False
    notes: str = ""


class Catalog(_Data, frozen=True, dict=True):  # dict: room for cached lookups
    catalog: CatalogMeta
    managed_models: tuple[ManagedModel, ...]
    gpu_instances: tuple[GpuInstance, ...]
    deployments: tuple[Deployment, ...]
    assumptions: tuple[Assumption, ...]

    def __post_init__(self) -> None:
        super().__post_init__()
        instance_ids = {i.id for i in self.gpu_instances}
        for d in self.deployments:
            if d.instance not in instance_ids:
                raise ValueError(f"deployment {d.id!r} names unknown instance {d.instance!r}")
        missing = REQUIRED_ASSUMPTIONS - {a.id for a in self.assumptions}
        if missing:
            raise ValueError(f"catalog {self.catalog.id!r} lacks assumptions {sorted(missing)}")

    def instance(self, instance_id: str) -> GpuInstance:
        return self._instances[instance_id]

    @functools.cached_property
    def _instances(self) -> dict[str, GpuInstance]:
        return {i.id: i for i in self.gpu_instances}



# Every catalog defines these; the cost model reads them by id and callers may override
# each through ``assumptions.overrides`` in the profile.
REQUIRED_ASSUMPTIONS = frozenset(
    {
        "utilisation_target",
        "redundancy_spare_replicas",
        "gpu_memory_usable_share",
        "engineer_annual_usd",
        "loaded_cost_multiplier",
        "fte_self_hosted",
        "fte_hybrid",
        "reserved_discount",
        "on_prem_cost_factor",
        "ops_overhead_monthly_usd",
        "integration_monthly_usd",
        "lock_in_remediation_monthly_usd",
        "baa_compliance_monthly_usd",
        "weeks_managed_integration",
        "weeks_self_hosted_setup",
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

    @property
    def id(self) -> str:
        return self.data.catalog.id


def load_catalog(path: Path) -> LoadedCatalog:
    raw = path.read_bytes()
    try:
        data = msgspec.toml.decode(raw, type=Catalog)
    except msgspec.ValidationError as exc:
        raise ValueError(f"{path}: {exc}") from exc
    return LoadedCatalog(data=data, digest="sha256:" + hashlib.sha256(raw).hexdigest())


def load_catalogs(directory: Path) -> dict[str, LoadedCatalog]:
    catalogs: dict[str, LoadedCatalog] = {}
    for path in sorted(directory.glob("*.toml")):
        loaded = load_catalog(path)
        if loaded.id in catalogs:
            raise ValueError(f"{path}: duplicate catalog id {loaded.id!r}")
        catalogs[loaded.id] = loaded
    return catalogs
