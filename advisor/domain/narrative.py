"""Words for people: the summary paragraph, the risks, the latency statement and the next steps."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Protocol

from advisor.domain.decision import Decision
from advisor.domain.profile import OptionName, Profile
from advisor.domain.recommendation import OptionAssessment, Options
from advisor.domain.rules import Rule

LABELS: dict[OptionName, str] = {"managed": "Managed API", "self_hosted": "Self-hosted", "hybrid": "Hybrid routing"}
_RISK_ORDER = {"checklist": 0, "override": 1, "routing": 2, "hidden_cost": 3}


class PricedOption(Protocol):
    """What the words need of a priced option (the cost model's OptionPrice)."""

    @property
    def notes(self) -> tuple[str, ...]: ...


class BaaVendors(Protocol):
    def baa_vendors(self) -> list[str]: ...


def money(value: Decimal | None) -> str:
    return "n/a" if value is None else f"${value:,.0f}"


def risks(decision: Decision, fired: Sequence[Rule], chosen: PricedOption, profile: Profile) -> tuple[str, ...]:
    """Risks of the chosen option: staffing and regulation first, then the option's own caveats."""
    ruled = [r for r in fired if r.effect == "risk" and decision.option in r.options]
    if getattr(chosen, "variant", None) == "managed_small":
        # API-to-API routing runs no GPUs: only the managed side's risks and the router's own apply.
        ruled = [r for r in ruled if "managed" in r.options or r.options == ("hybrid",)]
    ruled.sort(key=lambda r: _RISK_ORDER[r.category])
    found = [f"{r.title}: {r.rationale} [{r.id}]" for r in ruled]
    found += [f"Catalog note: {note}" for note in chosen.notes]
    return tuple(found)


def latency_statement(profile: Profile, option: OptionName, chosen: OptionAssessment | object) -> str:
    target = profile.workload.latency_p95_ms
    check = getattr(chosen, "latency", None)
    if target is None:
        return "No latency target was given; capacity is sized at the published points' own latency limits."
    if check is None:
        return f"p95 latency target {target} ms: not assessed for {LABELS[option].lower()}."
    verdict = {True: "met", False: "NOT met", None: "unknown"}[check.met]
    return f"p95 time-to-first-token target {target} ms for {LABELS[option].lower()}: {verdict}. {check.evidence}"


def next_steps(decision: Decision, profile: Profile, options: Options, break_even: int | None,
               vendors: BaaVendors) -> tuple[str, ...]:
    option = options.get(decision.option)
    steps: list[str] = []
    engineers = profile.team.ml_infra_engineers
    c = profile.compliance
    if decision.option in ("self_hosted", "hybrid") and engineers == 0 and option.variant != "managed_small":
        steps.append("Hire or contract an ML infrastructure engineer before committing to a launch date"
                     if profile.team.can_hire else
                     "Close the staffing gap first: this answer is mandated, yet nobody can run it and there is no"
                     " budget to hire; contract a managed-infrastructure partner or secure headcount")
    for o in decision.unknown:
        steps.append(f"Confirm {LABELS[o].lower()} pricing outside the catalog: {options.get(o).unavailable_reason}")
    if "hipaa" in c.regimes and not c.baa_available:
        names = ", ".join(vendors.baa_vendors()) or "none in the catalog"
        steps.append(f"Managed APIs are excluded without a BAA; vendors in the catalog that sign one: {names}. "
                     "De-identifying data before it reaches an API (HIPAA safe harbor) would also change this answer")
    if decision.option == "managed":
        steps.append(f"Start on {option.configuration.removeprefix('managed API: ')} behind a provider-neutral "
                     "client layer so a later switch stays cheap")
        if "hipaa" in c.regimes:
            steps.append("Sign the platform's BAA (see its plan in the catalog) before any patient data is sent")
        if break_even is not None and break_even > profile.workload.daily_tokens:
            steps.append(f"Re-assess when volume approaches {break_even:,} tokens/day, from where self-hosting stays "
                         "cheaper for this profile")
    elif decision.option == "self_hosted" or option.variant == "self_hosted_small":
        where = option.configuration.split(": ", 1)[-1]
        steps.append(f"Provision {where} and load-test it at the profile's peak of "
                     f"{profile.workload.peak_to_average:g}x average volume")
        steps.append("Set up driver/CUDA pinning, an image patching cadence and a model-upgrade evaluation suite")
    if decision.option == "hybrid":
        steps.append("Build and evaluate the router that sends simple requests to the small model, and measure"
                     " the simple share it really achieves")
    elif profile.workload.capability == "frontier" and profile.workload.simple_task_share == 0:
        steps.append("Measure how much of the workload is simple (classification, extraction, short answers): "
                     "routing it to a small model is the usual way to cut a frontier bill by 40-60%, and the "
                     "profile's simple_task_share is 0")
    if decision.strength == "marginal":
        steps.append("The options are close on cost: validate the flagged assumptions before deciding")
    steps.append(f"Plan for about {option.weeks_to_production} weeks to production ({option.weeks_basis})")
    return tuple(steps)


def summary(decision: Decision, options: Options, first_risk: str | None) -> str:
    chosen = options.get(decision.option)
    others = "; ".join(
        f"{LABELS[name].lower()} {money(options.get(name).monthly_usd)}"
        + ("" if options.get(name).eligible else " (excluded)" if options.get(name).excluded_by else " (unknown)")
        for name in LABELS if name != decision.option
    )
    region = chosen.region
    named = not region or region in ("global", "on_prem") or f"in {region}" in chosen.configuration
    where = "" if named else f" in {region}"
    text = (f"{LABELS[decision.option]} ({decision.strength}): {decision.reason}. Estimated TCO "
            f"{money(chosen.monthly_usd)}/month on {chosen.configuration}{where}, about {chosen.weeks_to_production} "
            f"weeks to production; compared with {others}.")
    if first_risk:
        text += f" First risk: {first_risk}"
    return text
