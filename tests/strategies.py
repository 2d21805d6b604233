"""Hypothesis strategies for valid organisation profiles across the whole contract."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

shares = st.floats(0, 1, allow_nan=False)
# Hard requirements that exclude options are drawn rarely, so most profiles leave a real choice.
rarely = st.sampled_from([False, False, False, False, False, True])


@st.composite
def profile_bodies(draw: st.DrawFn) -> dict[str, Any]:
    regimes = draw(st.lists(st.sampled_from(["hipaa", "gdpr", "finance", "government", "gdpr", "finance"]),
                            unique=True, max_size=2))
    return {
        "organization": {"name": draw(st.text(min_size=1, max_size=200)),
                         "industry": draw(st.none() | st.text(max_size=50))},
        "workload": {
            "daily_tokens": draw(st.integers(0, 10**15)),
            "output_share": draw(shares),
            "peak_to_average": draw(st.floats(1, 1000, allow_nan=False)),
            "simple_task_share": draw(shares),
            "capability": draw(st.sampled_from(["small", "mid", "frontier"])),
            "latency_p95_ms": draw(st.none() | st.none() | st.integers(1, 3_600_000)),
            "volume_certainty": draw(st.sampled_from(["validation", "growing", "steady"])),
            "cached_input_share": draw(shares),
            "batch_share": draw(shares),
            "availability": draw(st.sampled_from(["business_hours", "24x7"])),
            "preferred_providers": draw(st.lists(st.sampled_from(["openai", "anthropic", "google", "bedrock"]),
                                                 unique=True, max_size=2)),
        },
        "team": {"ml_infra_engineers": draw(st.integers(0, 100_000)), "can_hire": draw(st.booleans())},
        "compliance": {
            "regimes": regimes,
            "air_gapped": draw(rarely),
            "baa_available": draw(st.booleans()),
            "clinical_workflow": draw(rarely),
            "model_audit_required": draw(rarely),
            "data_residency": draw(st.lists(st.sampled_from(["eu", "us", "apac", "ca", "de", "jp", "uk"]), unique=True,
                                            max_size=3)),
        },
        "requirements": {"modify_weights": draw(rarely),
                         "pricing_stability_critical": draw(st.booleans())},
        "infrastructure": {"gpu_procurement": draw(st.sampled_from(["none", "cloud_reserved", "on_prem"]))},
        "assumptions": {
            "catalog": draw(st.sampled_from(["sourced-2026-12", "sourced-2026-12", "article-2026-05"])),
            "staffing": draw(st.sampled_from(["full", "incremental"])),
            "utilisation_target": draw(st.none() | st.floats(0.05, 1, allow_nan=False)),
            "redundancy": draw(st.none() | st.integers(0, 16)),
            "autoscaling": draw(st.booleans()),
            "provisioning": draw(st.none() | st.sampled_from(["on_demand", "reserved_1y", "reserved_3y", "spot"])),
        },
    }
