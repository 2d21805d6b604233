"""The flat, typed fact the rules see: one profile, derived fields spelled out.

Rules are written against these names only. Keeping them flat and fully typed is what
makes the rule engine's silent coercions harmless (see durable-rules notes in the README).
"""

from __future__ import annotations

from typing import Any, Final

from advisor.domain.profile import Profile

FACT_KIND: Final = "profile"

# name -> python type; the rulebook refuses a condition on any other name or type.
FACT_FIELDS: Final[dict[str, type]] = {
    "daily_tokens": int,
    "output_share": float,
    "peak_to_average": float,
    "simple_task_share": float,
    "capability": str,
    "latency_p95_ms": int,
    "volume_certainty": str,
    "ml_infra_engineers": int,
    "can_hire": bool,
    "regime_hipaa": bool,
    "regime_gdpr": bool,
    "regime_finance": bool,
    "regime_government": bool,
    "air_gapped": bool,
    "baa_available": bool,
    "clinical_workflow": bool,
    "model_audit_required": bool,
    "residency_required": bool,
    "managed_residency_available": bool,
    "modify_weights": bool,
    "pricing_stability_critical": bool,
    "gpu_procurement": str,
    "staffing": str,
    "availability": str,
    "provisioning": str,
    "autoscaling": bool,
    "cached_input_share": float,
    "batch_share": float,
}


# The rule engine's C parser rejects exponent notation ("1e-05"), which Python writes for small
# floats; rules see shares and ratios to four decimal places, which never need an exponent.
FACT_FLOAT_DECIMALS: Final = 4


def _ratio(value: float) -> float:
    return round(value, FACT_FLOAT_DECIMALS)


def provisioning(profile: Profile) -> str:
    """How cloud GPUs are bought: the caller's choice, else reserved with existing commitments."""
    chosen = profile.assumptions.provisioning
    if chosen is not None:
        return chosen
    return "reserved_1y" if profile.infrastructure.gpu_procurement == "cloud_reserved" else "on_demand"


def owns_hardware(profile: Profile) -> bool:
    """Air-gapped and government work runs on owned hardware (the article's override)."""
    c = profile.compliance
    return c.air_gapped or "government" in c.regimes


def profile_fact(profile: Profile, *, managed_residency_available: bool) -> dict[str, Any]:
    """Flatten a validated profile into the fact asserted into the rule engine.

    ``managed_residency_available`` comes from the pricing catalog (is any managed model of the
    needed capability processed inside an allowed region?), computed before the rules run.
    A null latency is left out: an absent field never matches a comparison.
    """
    w, c = profile.workload, profile.compliance
    fact: dict[str, Any] = {
        "kind": FACT_KIND,
        "daily_tokens": w.daily_tokens,
        "output_share": _ratio(w.output_share),
        "peak_to_average": _ratio(w.peak_to_average),
        "simple_task_share": _ratio(w.simple_task_share),
        "capability": w.capability,
        "volume_certainty": w.volume_certainty,
        "ml_infra_engineers": profile.team.ml_infra_engineers,
        "can_hire": profile.team.can_hire,
        "air_gapped": c.air_gapped,
        "baa_available": c.baa_available,
        "clinical_workflow": c.clinical_workflow,
        "model_audit_required": c.model_audit_required,
        "residency_required": bool(c.data_residency),
        "managed_residency_available": managed_residency_available,
        "modify_weights": profile.requirements.modify_weights,
        "pricing_stability_critical": profile.requirements.pricing_stability_critical,
        "gpu_procurement": profile.infrastructure.gpu_procurement,
        "staffing": profile.assumptions.staffing,
        "availability": w.availability,
        "provisioning": provisioning(profile),
        "autoscaling": profile.assumptions.autoscaling,
        "cached_input_share": _ratio(w.cached_input_share),
        "batch_share": _ratio(w.batch_share),
    }
    for regime in ("hipaa", "gdpr", "finance", "government"):
        fact[f"regime_{regime}"] = regime in c.regimes
    if w.latency_p95_ms is not None:
        fact["latency_p95_ms"] = w.latency_p95_ms
    return fact
