"""What the advisor answers: options priced line by line, findings, decision, and versions.

These types are the response contract of ``POST /assess`` and of the signed record, so they
hold no floats of their own: money is Decimal (encoded as a decimal string) rounded to cents.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

import msgspec

from advisor.domain.profile import OptionName, Profile
from advisor.domain.rules import Category, EffectKind

Strength = Literal["mandatory", "clear", "marginal"]


class _Out(msgspec.Struct, frozen=True, kw_only=True):
    pass


class SourceRef(_Out, frozen=True):
    """Where a figure comes from: an entry of the catalog named in ``versions`` and its date.

    The entry's full source text is served by ``GET /catalogs/{id}``; ``assumption`` marks an
    unsourced catalog figure or a caller override, which a reader should check.
    """

    entry: Annotated[str, msgspec.Meta(description=(
        "`<section>.<id>` of the catalog entry (e.g. `gpu_instances.<id>`, `assumptions.utilisation_target`), or "
        "`profile.<path>` for a value taken from the request"))]
    as_of: Annotated[str, msgspec.Meta(description="The date of the entry's figure, or `request` for a request value")]
    assumption: Annotated[bool, msgspec.Meta(description=(
        "An unsourced catalog planning figure or a caller's value, which a reader should check"))] = False


class LineItem(_Out, frozen=True):
    """One priced line of an option's monthly cost."""

    category: Annotated[str, msgspec.Meta(description=(
        "What the line pays for: `managed_tokens`, `gpu_compute`, `gpu_compute_small_model`, `staffing`, "
        "`ops_overhead`, or a catalog cost item such as `integration`, `lock_in_remediation`, `routing_layer`"))]
    monthly_usd: Annotated[Decimal, msgspec.Meta(description=(
        "USD per month, a decimal string rounded to cents; an option's lines add up to its `monthly_usd`"))]
    basis: Annotated[str, msgspec.Meta(description="The arithmetic and the figures behind the amount, in words")]
    source: Annotated[SourceRef, msgspec.Meta(description="Where the line's main figure comes from")]
    inputs: Annotated[tuple[SourceRef, ...], msgspec.Meta(description=(
        "The other figures the amount depends on"))] = ()


class Alternative(_Out, frozen=True):
    """Another managed offering of the same tier, priced for the same profile."""

    offering: Annotated[str, msgspec.Meta(description="Id of the offering in the catalog")]
    model: Annotated[str, msgspec.Meta(description="The model's own id")]
    open_weights: Annotated[bool, msgspec.Meta(description=(
        "The model's weights are open: a host selling it offers the class of model one could self-host"))]
    monthly_usd: Annotated[Decimal, msgspec.Meta(description=(
        "Its token cost per month at the profile's volume, mix, cache and batch shares (tokens only, without the "
        "option's fixed items), a decimal string"))]


class LatencyCheck(_Out, frozen=True):
    """Whether an option meets the profile's p95 latency need, and on what evidence."""

    target_ms: Annotated[int | None, msgspec.Meta(description=(
        "The profile's p95 time-to-first-token target in ms; null: none"))]
    met: Annotated[bool | None, msgspec.Meta(description=(
        "Whether published serving points meet the target; null without a target or without evidence either "
        "way"))]  # None: no target, or no published evidence either way
    evidence: Annotated[str, msgspec.Meta(description="The published points (or their absence) the verdict rests on")]


class OptionAssessment(_Out, frozen=True):
    """One option, priced at the profile's volume whether or not the rules allow it."""

    eligible: Annotated[bool, msgspec.Meta(description=(
        "Allowed by the rules and priceable from the catalog"))]
    excluded_by: Annotated[tuple[str, ...], msgspec.Meta(description=(
        "Ids of the rules that exclude this option (see `findings`); empty when the rules allow it"))]
    monthly_usd: Annotated[Decimal | None, msgspec.Meta(description=(
        "Total cost of ownership per month in USD, a decimal string: the sum of `line_items`; null when the "
        "catalog cannot price the option"))]
    line_items: Annotated[tuple[LineItem, ...], msgspec.Meta(description=(
        "The monthly cost, line by line, at the profile's daily volume"))]
    weeks_to_production: Annotated[int | None, msgspec.Meta(description=(
        "Estimated weeks to production: the longest lead time (hiring, provisioning, procurement, legal) plus "
        "the build work; null when the option cannot be priced"))]
    weeks_basis: Annotated[str, msgspec.Meta(description="How the weeks add up, in words")]
    configuration: Annotated[str, msgspec.Meta(description=(
        "What is priced: the managed offering, the fleet (units, GPU, model, region) or the hybrid split; "
        "`none` when the option cannot be priced"))]
    unavailable_reason: Annotated[str | None, msgspec.Meta(description=(
        "Why the catalog cannot price this option (a catalog gap, not a rule); null when priced"))] = None
    # Where it runs: a region code from GET /regions, "on_prem", or "global" (no residency commitment).
    region: Annotated[str | None, msgspec.Meta(description=(
        "Where it processes data: a region code (GET /regions; several, comma-separated, where the offering may "
        "be pinned to any of them), `on_prem`, or `global` (no residency commitment). For hybrid: where the "
        "self-hosted small model runs, or with API-to-API routing where the main managed model processes; null "
        "when not priced"))] = None
    variant: Annotated[str | None, msgspec.Meta(description=(
        "For hybrid, the cheaper allowed variant: `self_hosted_small` (the simple share on a self-hosted small "
        "model) or `managed_small` (on a managed small model: API-to-API routing); null for the other options"))] = None
    alternatives: Annotated[tuple[Alternative, ...], msgspec.Meta(description=(
        "For managed: up to two other models of the same tier, priced for the same profile (a host of an "
        "open-weight model first)"))] = ()
    latency: Annotated[LatencyCheck | None, msgspec.Meta(description=(
        "Whether the option meets the p95 latency target, on what evidence; null where not assessed"))] = None


class Options(_Out, frozen=True):
    """The three options, each priced line by line."""

    managed: Annotated[OptionAssessment, msgspec.Meta(description="A managed API of the needed tier")]
    self_hosted: Annotated[OptionAssessment, msgspec.Meta(description=(
        "An open-weight model of the needed tier on cloud GPUs or owned servers"))]
    hybrid: Annotated[OptionAssessment, msgspec.Meta(description=(
        "Simple work routed to a small model, the rest to the managed API"))]

    def get(self, name: OptionName) -> OptionAssessment:
        value: OptionAssessment = getattr(self, name)
        return value


class Finding(_Out, frozen=True):
    """A rule that fired and took effect."""

    rule_id: Annotated[str, msgspec.Meta(description="The rule's id (GET /rules)")]
    title: Annotated[str, msgspec.Meta(description="The rule's title")]
    category: Annotated[Category, msgspec.Meta(description=(
        "`override` (regulation and hard requirements), `checklist`, `hidden_cost` or `routing`"))]
    effect: Annotated[EffectKind, msgspec.Meta(description=(
        "What firing did: `exclude`, `prefer`, `cost` (a line item), `risk`, `timeline` (weeks) or `info`"))]
    options: Annotated[tuple[OptionName, ...], msgspec.Meta(description="The options the effect applies to")]
    rationale: Annotated[str, msgspec.Meta(description="Why, for the reader")]
    encodes: Annotated[str, msgspec.Meta(description="The checklist item or regulation the rule encodes")]


class Versions(_Out, frozen=True):
    """What produced the advice: equal profiles and versions give equal recommendations."""

    advisor: Annotated[str, msgspec.Meta(description="Version of the advisor code")]
    rules_digest: Annotated[str, msgspec.Meta(description="Digest of the rule files the rules were read from")]
    catalog_id: Annotated[str, msgspec.Meta(description="Id of the pricing catalog used")]
    catalog_digest: Annotated[str, msgspec.Meta(description="SHA-256 of the exact catalog file bytes")]


class BreakEvenRange(_Out, frozen=True):
    """Break-even under the documented assumption bands: each end with the values that make it."""

    low: Annotated[int | None, msgspec.Meta(description=(
        "Break-even daily tokens with every banded assumption at the end that favours self-hosting; null where "
        "there is none"))]
    high: Annotated[int | None, msgspec.Meta(description=(
        "Break-even daily tokens with every banded assumption at the end that disfavours self-hosting; null "
        "where there is none"))]
    low_basis: Annotated[str, msgspec.Meta(description="The band values behind `low`, and the result in words")]
    high_basis: Annotated[str, msgspec.Meta(description="The band values behind `high`, and the result in words")]


class Sensitivity(_Out, frozen=True):
    """A single-factor change that would flip the decision, found by search over the same model."""

    factor: Annotated[str, msgspec.Meta(description=(
        "`managed_prices:<option>` or `gpu_prices:<option>` (the price multiple at which <option> costs what the "
        "chosen option does at this volume); `volume:<option>` (the volume multiple from which the answer becomes "
        "<option>, or for the chosen option below which it is no longer chosen)"))]
    flips_at: Annotated[Decimal | None, msgspec.Meta(description=(
        "That multiple of today's value, a decimal string; null when no change from x0.01 to x100 of that "
        "factor alone flips it"))]
    basis: Annotated[str, msgspec.Meta(description="The change in words")]


class Recommendation(_Out, frozen=True, omit_defaults=True):
    """The advice itself; equal profiles and versions give equal recommendations.

    ``omit_defaults``: ``supersedes`` is left out of the signed bytes when null, so records written
    before it existed keep their canonical form (and their hashes and signatures) unchanged.
    """

    decision: Annotated[OptionName, msgspec.Meta(description="The recommended option")]
    strength: Annotated[Strength, msgspec.Meta(description=(
        "`mandatory`: the only eligible option, the rules left no other; `clear`: more than 10% cheaper than "
        "every other eligible option at this volume; `marginal`: otherwise"))]
    summary: Annotated[str, msgspec.Meta(description="The advice in a paragraph")]
    profile: Annotated[Profile, msgspec.Meta(description=(
        "The profile as assessed, lists normalised (sorted)"))]
    options: Annotated[Options, msgspec.Meta(description="Every option, priced, with whether it is eligible")]
    findings: Annotated[tuple[Finding, ...], msgspec.Meta(description=(
        "The rules that fired and took effect, in rulebook order"))]
    break_even_daily_tokens: Annotated[int | None, msgspec.Meta(description=(
        "Daily volume from which self-hosting is, and stays, cheaper than the managed comparator; null where "
        "there is none (see `break_even_basis`)"))]
    break_even_basis: Annotated[str, msgspec.Meta(description="How the break-even was found, or why there is none")]
    break_even_range: Annotated[BreakEvenRange, msgspec.Meta(description=(
        "The break-even under the catalog's documented assumption bands"))]
    latency: Annotated[str, msgspec.Meta(description="The latency verdict for the chosen option, in words")]
    sensitivity: Annotated[tuple[Sensitivity, ...], msgspec.Meta(description=(
        "Single-factor changes (prices, volume) that would change the answer, all else fixed"))]
    unknowns: Annotated[tuple[str, ...], msgspec.Meta(description=(
        "Options no rule excludes that the catalog cannot price, with why: confirm them outside the catalog"))]
    risks: Annotated[tuple[str, ...], msgspec.Meta(description=(
        "Risks of the chosen option: staffing and regulation first, then caveats of its offering or deployment"))]
    next_steps: Annotated[tuple[str, ...], msgspec.Meta(description="What to do next, in order")]
    versions: Annotated[Versions, msgspec.Meta(description="The code, rules and catalog that produced the advice")]
    supersedes: Annotated[str | None, msgspec.Meta(description=(
        "The id of the assessment this one re-evaluates (`POST /assessments/{id}/reassess`); absent for a first "
        "assessment"))] = None
