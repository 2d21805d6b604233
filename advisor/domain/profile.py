"""The organisation profile: the fixed request contract of ``POST /assess``.

Validation lives in the types (msgspec constraints) so that a profile that reaches the
rule engine or the cost model is already typed and in range: durable_rules coerces types
silently, so nothing untyped may reach it.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

Regime = Literal["hipaa", "gdpr", "finance", "government"]
Capability = Literal["small", "mid", "frontier"]
VolumeCertainty = Literal["validation", "growing", "steady"]
GpuProcurement = Literal["none", "cloud_reserved", "on_prem"]
Staffing = Literal["full", "incremental"]
Availability = Literal["business_hours", "24x7"]
Provisioning = Literal["on_demand", "reserved_1y", "reserved_3y", "spot"]
OptionName = Literal["managed", "self_hosted", "hybrid"]
OPTION_NAMES: tuple[OptionName, ...] = ("managed", "self_hosted", "hybrid")

# Bounds that keep every value meaningful and every body small. 10^15 tokens/day is
# far beyond any real workload yet far inside the 2^53 range of signed JSON integers.
MAX_DAILY_TOKENS = 10**15
Share = Annotated[float, msgspec.Meta(ge=0.0, le=1.0)]
RegionCode = Annotated[str, msgspec.Meta(pattern=r"^[a-z]{2,10}$", description="Region code such as eu or us")]


_UNIQUE = {"uniqueItems": True}  # duplicates are refused (see Compliance); the OpenAPI document says so


class _Strict(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """Base for request structs: unknown fields are an error, instances are immutable."""


class Organization(_Strict, frozen=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    industry: Annotated[str, msgspec.Meta(max_length=200)] | None = None


class Workload(_Strict, frozen=True):
    daily_tokens: Annotated[int, msgspec.Meta(ge=0, le=MAX_DAILY_TOKENS)]
    output_share: Share = 0.25
    peak_to_average: Annotated[float, msgspec.Meta(ge=1.0, le=1000.0)] = 3.0
    simple_task_share: Share = 0.0
    capability: Capability = "mid"
    latency_p95_ms: Annotated[int, msgspec.Meta(gt=0, le=3_600_000)] | None = None
    volume_certainty: VolumeCertainty = "steady"
    # Managed pricing levers: the share of input tokens read from a prompt cache, and the share of
    # all tokens sent through a provider's batch API (asynchronous, about half price).
    cached_input_share: Share = 0.0
    batch_share: Share = 0.0
    # The comparator the caller means: a catalog model id (or offering id) in use today, or the
    # providers it would consider; without them the cheapest eligible model of the tier.
    current_model: Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9@/_.:-]{0,99}$")] | None = None
    preferred_providers: Annotated[
        tuple[Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")], ...],
        msgspec.Meta(max_length=16, extra_json_schema=_UNIQUE),
    ] = ()
    # 24x7 needs a spare replica and an on-call rotation; business hours needs neither.
    availability: Availability = "24x7"

    def __post_init__(self) -> None:
        if len(set(self.preferred_providers)) != len(self.preferred_providers):
            raise ValueError("`preferred_providers` must not contain duplicates")
        msgspec.structs.force_setattr(self, "preferred_providers", tuple(sorted(self.preferred_providers)))


class Team(_Strict, frozen=True):
    ml_infra_engineers: Annotated[int, msgspec.Meta(ge=0, le=100_000)]
    can_hire: bool = False


class Compliance(_Strict, frozen=True):
    regimes: Annotated[tuple[Regime, ...], msgspec.Meta(max_length=4, extra_json_schema=_UNIQUE)] = ()
    air_gapped: bool = False
    baa_available: bool = False
    clinical_workflow: bool = False
    model_audit_required: bool = False
    # Where data may be processed: region codes from GET /regions (a bloc allows every country in it).
    data_residency: Annotated[tuple[RegionCode, ...], msgspec.Meta(max_length=32, extra_json_schema=_UNIQUE)] = ()

    def __post_init__(self) -> None:
        # Lists are sets in meaning: duplicates are a caller error, order is normalised so
        # that the same profile always yields the same stored (and signed) bytes.
        for name in ("regimes", "data_residency"):
            values: tuple[str, ...] = getattr(self, name)
            if len(set(values)) != len(values):
                raise ValueError(f"`{name}` must not contain duplicates")
            msgspec.structs.force_setattr(self, name, tuple(sorted(values)))


class Requirements(_Strict, frozen=True):
    modify_weights: bool = False
    pricing_stability_critical: bool = False


class Infrastructure(_Strict, frozen=True):
    gpu_procurement: GpuProcurement = "none"


AssumptionKey = Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_.]{0,63}$")]


class Assumptions(_Strict, frozen=True):
    """Caller overrides of the catalog's assumptions; every field is optional."""

    catalog: Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")] | None = None
    staffing: Staffing = "full"
    utilisation_target: Annotated[float, msgspec.Meta(ge=0.05, le=1.0)] | None = None
    redundancy: Annotated[int, msgspec.Meta(ge=0, le=16)] | None = None
    # Cloud only: pay for the diurnal average times a headroom instead of the peak, 24/7.
    autoscaling: bool = False
    # How cloud GPUs are bought; unset means reserved_1y with existing commitments, else on_demand.
    provisioning: Provisioning | None = None
    overrides: Annotated[dict[AssumptionKey, Annotated[float, msgspec.Meta(ge=0, le=1e12)]],
                         msgspec.Meta(max_length=64)] = msgspec.field(default_factory=dict)


class Profile(_Strict, frozen=True):
    """An organisation profile as posted by a portal."""

    organization: Organization
    workload: Workload
    team: Team
    compliance: Compliance = msgspec.field(default_factory=Compliance)
    requirements: Requirements = msgspec.field(default_factory=Requirements)
    infrastructure: Infrastructure = msgspec.field(default_factory=Infrastructure)
    assumptions: Assumptions = msgspec.field(default_factory=Assumptions)
