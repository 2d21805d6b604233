"""Words for people: the summary paragraph, the risks and the next steps of a decision."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from advisor.domain.decision import Decision
from advisor.domain.profile import OptionName, Profile
from advisor.domain.recommendation import Options
from advisor.domain.rules import Rule

LABELS: dict[OptionName, str] = {"managed": "Managed API", "self_hosted": "Self-hosted", "hybrid": "Hybrid routing"}
_RISK_ORDER = {"checklist": 0, "override": 1, "routing": 2, "hidden_cost": 3}


def money(value: Decimal | None) -> str:
    return "n/a" if value is None else f"${value:,.0f}"


def risks(decision: Decision, fired: Sequence[Rule]) -> tuple[str, ...]:
    """Risks of the chosen option, staffing and regulation first, then hidden costs."""
    chosen = [r for r in fired if r.effect == "risk" and decision.option in r.options]
    chosen.sort(key=lambda r: _RISK_ORDER[r.category])
    return tuple(f"{r.title}: {r.rationale} [{r.id}]" for r in chosen)


def next_steps(decision: Decision, profile: Profile, options: Options, break_even: int | None) -> tuple[str, ...]:
    option = options.get(decision.option)
    steps: list[str] = []
    engineers = profile.team.ml_infra_engineers
    if decision.option in ("self_hosted", "hybrid") and engineers == 0:
        steps.append("Hire or contract an ML infrastructure engineer before committing to a launch date"
                     if profile.team.can_hire else
                     "Close the staffing gap: self-hosting has nobody to run it and no budget to hire")
    if decision.option == "managed":
        steps.append(f"Start on {option.configuration.removeprefix('managed API: ')} behind a provider-neutral "
                     "client layer so a later switch stays cheap")
        if "hipaa" in profile.compliance.regimes:
            steps.append("Sign the provider's BAA at enterprise tier before any patient data is sent")
        if break_even is not None:
            steps.append(f"Re-assess when volume approaches {break_even:,} tokens/day, where self-hosting "
                         "breaks even for this profile")
    else:
        steps.append(f"Provision {option.configuration.split(': ', 1)[-1]} and load-test it at the "
                     f"profile's peak of {profile.workload.peak_to_average:g}x average volume")
        steps.append("Set up driver/CUDA pinning, an image patching cadence and a model-upgrade evaluation suite")
    if decision.option == "hybrid":
        steps.append("Build and evaluate the router that sends simple requests to the small model")
    if decision.strength == "marginal":
        steps.append("The options are within 10% on cost: validate the flagged assumptions before deciding")
    steps.append(f"Plan for about {option.weeks_to_production} weeks to production ({option.weeks_basis})")
    return tuple(steps)


def summary(decision: Decision, options: Options, first_risk: str | None) -> str:
    chosen = options.get(decision.option)
    others = "; ".join(
        f"{LABELS[name].lower()} {money(options.get(name).monthly_usd)}"
        + ("" if options.get(name).eligible else " (excluded)")
        for name in LABELS if name != decision.option
    )
    text = (f"{LABELS[decision.option]} ({decision.strength}): {decision.reason}. Estimated TCO "
            f"{money(chosen.monthly_usd)}/month on {chosen.configuration}, about {chosen.weeks_to_production} "
            f"weeks to production; compared with {others}.")
    if first_risk:
        text += f" First risk: {first_risk}"
    return text
