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
    """Who is asking."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200, description=(
        "The organisation's name, as shown in the report"))]
    industry: Annotated[str, msgspec.Meta(max_length=200, description=(
        "Its industry, free text for the reader; rules and prices do not read it (regulation is stated in "
        "`compliance`)"))] | None = None


class Workload(_Strict, frozen=True):
    """What the model must do, and how much of it."""

    daily_tokens: Annotated[int, msgspec.Meta(ge=0, le=MAX_DAILY_TOKENS, description=(
        "Average tokens per day, input plus output, counted as API bills count them: the volume every option is "
        "priced at"))]
    output_share: Annotated[Share, msgspec.Meta(description=(
        "Share of the daily tokens that are output (generated); sets the blended managed price and the "
        "input/output mix at which self-hosted capacity is read from published serving points"))] = 0.25
    peak_to_average: Annotated[float, msgspec.Meta(ge=1.0, le=1000.0, description=(
        "Peak token rate over the daily average rate; a self-hosted fleet is sized for the peak (unless "
        "`assumptions.autoscaling`)"))] = 3.0
    simple_task_share: Annotated[Share, msgspec.Meta(description=(
        "Share of the tokens that are simple work (classification, extraction, simple generation) a hybrid routes "
        "to a small model; 0 excludes hybrid routing"))] = 0.0
    capability: Annotated[Capability, msgspec.Meta(description=(
        "Model tier the work needs; every option is priced on a model of this tier (self-hosting never on a "
        "smaller one), and hybrid routing is excluded for `small`"))] = "mid"
    latency_p95_ms: Annotated[int, msgspec.Meta(gt=0, le=3_600_000, description=(
        "p95 time-to-first-token target in ms, compared with the time to first token published for self-hosted "
        "serving points (p95 where the source gives it; capacity is sized at points that meet it); below 50 "
        "excludes managed and hybrid; null: no target"))] | None = None
    volume_certainty: Annotated[VolumeCertainty, msgspec.Meta(description=(
        "How settled the volume is; `validation` (early, uncertain volume) makes a managed API the answer "
        "wherever it is eligible"))] = "steady"
    # Managed pricing levers: the share of input tokens read from a prompt cache, and the share of
    # all tokens sent through a provider's batch API (asynchronous, about half price).
    cached_input_share: Annotated[Share, msgspec.Meta(description=(
        "Share of input tokens read from a prompt cache, priced at each offering's cache-read price (at its "
        "input price where the catalog has none)"))] = 0.0
    batch_share: Annotated[Share, msgspec.Meta(description=(
        "Share of all tokens sent through a provider's batch API (asynchronous), priced at each offering's batch "
        "prices (at list price where the catalog has none)"))] = 0.0
    # The comparator the caller means: a catalog model id (or offering id) in use today, or the
    # providers it would consider; without them the cheapest eligible model of the tier.
    current_model: Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9@/_.:-]{0,99}$", description=(
        "A catalog model id or offering id (GET /catalogs/{id}) in use today; its cheapest offering of the tier "
        "that meets the residency and compliance needs becomes the managed comparator (else the cheapest that "
        "does, with a note). Unknown to the catalog: 422"))] | None = None
    preferred_providers: Annotated[
        tuple[Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")], ...],
        msgspec.Meta(max_length=16, extra_json_schema=_UNIQUE, description=(
            "Model makers (e.g. `anthropic`) or platforms (e.g. `bedrock`) the organisation would buy from; the "
            "cheapest of their eligible offerings of the tier becomes the managed comparator. Ignored when "
            "`current_model` is set; empty: the cheapest closed-weight offering of the tier")),
    ] = ()
    # 24x7 needs a spare replica and an on-call rotation; business hours needs neither.
    availability: Annotated[Availability, msgspec.Meta(description=(
        "`24x7` adds a spare replica (catalog `redundancy_spare_replicas`) and an on-call staffing minimum "
        "(`oncall_min_fte`) to self-hosted fleets; `business_hours` needs neither"))] = "24x7"

    def __post_init__(self) -> None:
        if len(set(self.preferred_providers)) != len(self.preferred_providers):
            raise ValueError("`preferred_providers` must not contain duplicates")
        msgspec.structs.force_setattr(self, "preferred_providers", tuple(sorted(self.preferred_providers)))


class Team(_Strict, frozen=True):
    """The people who would run a self-hosted deployment."""

    ml_infra_engineers: Annotated[int, msgspec.Meta(ge=0, le=100_000, description=(
        "ML infrastructure engineers on staff; 0 adds hiring time to self-hosted and hybrid options and, without "
        "`can_hire`, rules self-hosting out while a managed API is eligible"))]
    can_hire: Annotated[bool, msgspec.Meta(description=(
        "There is budget to hire ML infrastructure engineers; matters when none are on staff"))] = False


class Compliance(_Strict, frozen=True):
    """Regulation and residency: what rules options out before cost is considered."""

    regimes: Annotated[tuple[Regime, ...], msgspec.Meta(max_length=4, extra_json_schema=_UNIQUE, description=(
        "Regulatory regimes that apply to the data; `government` excludes managed and hybrid and prices "
        "self-hosting on owned hardware, `hipaa` depends on `baa_available`"))] = ()
    air_gapped: Annotated[bool, msgspec.Meta(description=(
        "The deployment has no connection to outside networks: managed and hybrid are excluded and self-hosting "
        "is priced on owned servers only"))] = False
    baa_available: Annotated[bool, msgspec.Meta(description=(
        "With `hipaa`: a Business Associate Agreement can be signed with an API vendor, so managed options stay "
        "eligible, priced only on platforms that sign one; false excludes managed and hybrid"))] = False
    clinical_workflow: Annotated[bool, msgspec.Meta(description=(
        "The model takes part in a clinical workflow: managed and hybrid are excluded"))] = False
    model_audit_required: Annotated[bool, msgspec.Meta(description=(
        "The model itself must be auditable at the level of its weights: managed and hybrid are excluded"))] = False
    # Where data may be processed: region codes from GET /regions (a bloc allows every country in it).
    data_residency: Annotated[tuple[RegionCode, ...], msgspec.Meta(
        max_length=32, extra_json_schema=_UNIQUE, description=(
            "Region codes (GET /regions) where data may be processed; a bloc such as `eu` allows every country "
            "inside it. Managed offerings must be pinned inside one of them and GPUs must sit inside one; "
            "empty: no residency requirement"))] = ()

    def __post_init__(self) -> None:
        # Lists are sets in meaning: duplicates are a caller error, order is normalised so
        # that the same profile always yields the same stored (and signed) bytes.
        for name in ("regimes", "data_residency"):
            values: tuple[str, ...] = getattr(self, name)
            if len(set(values)) != len(values):
                raise ValueError(f"`{name}` must not contain duplicates")
            msgspec.structs.force_setattr(self, name, tuple(sorted(values)))


class Requirements(_Strict, frozen=True):
    """Hard technical and commercial requirements."""

    modify_weights: Annotated[bool, msgspec.Meta(description=(
        "The model's weights must be changed (e.g. fine-tuned in full): managed and hybrid are excluded"))] = False
    pricing_stability_critical: Annotated[bool, msgspec.Meta(description=(
        "Stable pricing is critical: vendor price and deprecation changes become a risk of managed and hybrid "
        "options"))] = False


class Infrastructure(_Strict, frozen=True):
    """How the organisation buys GPUs today."""

    gpu_procurement: Annotated[GpuProcurement, msgspec.Meta(description=(
        "`none`; `cloud_reserved` (existing reserved cloud commitments: cloud GPUs are priced reserved_1y unless "
        "`assumptions.provisioning` says otherwise); `on_prem` (a hardware procurement relationship: owned servers "
        "are priced beside cloud GPUs, with the shorter procurement lead time)"))] = "none"


AssumptionKey = Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_.]{0,63}$")]


class Assumptions(_Strict, frozen=True):
    """Caller overrides of the catalog's assumptions; every field is optional."""

    catalog: Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$", description=(
        "Id of the pricing catalog to price from (GET /catalogs); unset: the default catalog"))] | None = None
    staffing: Annotated[Staffing, msgspec.Meta(description=(
        "`full` charges every FTE a self-hosted deployment needs; `incremental` only those beyond the "
        "`team.ml_infra_engineers` already on staff (their cost is sunk)"))] = "full"
    utilisation_target: Annotated[float, msgspec.Meta(ge=0.05, le=1.0, description=(
        "Replaces the catalog's `utilisation_target`: the share of a replica's published throughput planned for; "
        "must lie within that assumption's min/max, else 422"))] | None = None
    redundancy: Annotated[int, msgspec.Meta(ge=0, le=16, description=(
        "Replaces the catalog's `redundancy_spare_replicas`: spare replicas a 24x7 self-hosted fleet keeps; must "
        "lie within that assumption's min/max, else 422"))] | None = None
    # Cloud only: pay for the diurnal average times a headroom instead of the peak, 24/7.
    autoscaling: Annotated[bool, msgspec.Meta(description=(
        "Cloud GPUs only: pay for the diurnal average load times the catalog's `autoscale_headroom` (plus spares) "
        "instead of whole replicas at peak around the clock; owned servers are always sized at peak"))] = False
    # How cloud GPUs are bought; unset means reserved_1y with existing commitments, else on_demand.
    provisioning: Annotated[Provisioning | None, msgspec.Meta(description=(
        "How cloud GPUs are bought: a catalog price at that pricing model where listed, else on-demand less the "
        "catalog's discount for it (spot only where the provider sells spot). Unset: reserved_1y with "
        "`infrastructure.gpu_procurement` cloud_reserved, else on_demand"))] = None
    overrides: Annotated[dict[AssumptionKey, Annotated[float, msgspec.Meta(ge=0, le=1e12)]],
                         msgspec.Meta(max_length=64, description=(
                             "Catalog assumption id -> value replacing the catalog's figure for this request (ids, "
                             "units and ranges: GET /catalogs/{id}); each value must lie within that assumption's "
                             "min/max, else 422 naming the field"))] = msgspec.field(default_factory=dict)


class Profile(_Strict, frozen=True):
    """An organisation profile as posted by a portal."""

    organization: Annotated[Organization, msgspec.Meta(description="Who is asking")]
    workload: Annotated[Workload, msgspec.Meta(description="What the model must do, and how much of it")]
    team: Annotated[Team, msgspec.Meta(description="The people who would run a self-hosted deployment")]
    compliance: Annotated[Compliance, msgspec.Meta(description=(
        "Regulation and data residency"))] = msgspec.field(default_factory=Compliance)
    requirements: Annotated[Requirements, msgspec.Meta(description=(
        "Hard technical and commercial requirements"))] = msgspec.field(default_factory=Requirements)
    infrastructure: Annotated[Infrastructure, msgspec.Meta(description=(
        "How GPUs are bought today"))] = msgspec.field(default_factory=Infrastructure)
    assumptions: Annotated[Assumptions, msgspec.Meta(description=(
        "The catalog to price from, and overrides of its planning figures"))] = msgspec.field(
        default_factory=Assumptions)
