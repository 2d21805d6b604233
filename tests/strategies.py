"""Hypothesis strategies for valid organisation profiles across the whole contract."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

shares = st.floats(0, 1, allow_nan=False)


@st.composite
def profile_bodies(draw: st.DrawFn) -> dict[str, Any]:
    regimes = draw(st.lists(st.sampled_from(["hipaa", "gdpr", "finance", "government"]), unique=True, max_size=4))
    return {
        "organization": {"name": draw(st.text(min_size=1, max_size=200)),
                         "industry": draw(st.none() | st.text(max_size=50))},
        "workload": {
            "daily_tokens": draw(st.integers(0, 10**15)),
            "output_share": draw(shares),
            "peak_to_average": draw(st.floats(1, 1000, allow_nan=False)),
            "simple_task_share": draw(shares),
            "capability": draw(st.sampled_from(["small", "mid", "frontier"])),
            "latency_p95_ms": draw(st.none() | st.integers(1, 3_600_000)),
            "volume_certainty": draw(st.sampled_from(["validation", "growing", "steady"])),
        },
        "team": {"ml_infra_engineers": draw(st.integers(0, 100_000)), "can_hire": draw(st.booleans())},
        "compliance": {
            "regimes": regimes,
            "air_gapped": draw(st.booleans()),
            "baa_available": draw(st.booleans()),
            "clinical_workflow": draw(st.booleans()),
            "model_audit_required": draw(st.booleans()),
            "data_residency": draw(st.lists(st.sampled_from(["eu", "us", "apac", "ca", "cn"]), unique=True,
                                            max_size=3)),
        },
        "requirements": {"modify_weights": draw(st.booleans()),
                         "pricing_stability_critical": draw(st.booleans())},
        "infrastructure": {"gpu_procurement": draw(st.sampled_from(["none", "cloud_reserved", "on_prem"]))},
        "assumptions": {
            "catalog": draw(st.sampled_from(["sourced-2026-11", "article-2026-05"])),
            "staffing": draw(st.sampled_from(["full", "incremental"])),
            "utilisation_target": draw(st.none() | st.floats(0.01, 1, allow_nan=False)),
            "redundancy": draw(st.none() | st.integers(0, 16)),
        },
    }
