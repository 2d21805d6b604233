"""Distinct, valid organisation profiles for load tests (deterministic: same seed, same bodies)."""

from __future__ import annotations

import random
from typing import Any


def make_profiles(count: int, seed: int = 7) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    regimes = ["hipaa", "gdpr", "finance", "government"]
    profiles = []
    for i in range(count):
        chosen = sorted(rng.sample(regimes, rng.choice([0, 0, 0, 1, 1, 2])))
        profile: dict[str, Any] = {
            "organization": {"name": f"Org {i:05d}", "industry": rng.choice(["health", "finance", "retail", "gov"])},
            "workload": {
                "daily_tokens": rng.choice([50_000, 100_000, 1_000_000, 3_000_000, 20_000_000, 200_000_000])
                + rng.randrange(1000),
                "output_share": rng.choice([0.2, 0.25, 0.4]),
                "peak_to_average": rng.choice([1.5, 2.0, 3.0, 5.0]),
                "simple_task_share": rng.choice([0.0, 0.0, 0.3, 0.6]),
                "capability": rng.choice(["small", "mid", "mid", "frontier"]),
                "latency_p95_ms": rng.choice([None, None, 30, 200]),
                "volume_certainty": rng.choice(["validation", "growing", "steady"]),
            },
            "team": {"ml_infra_engineers": rng.choice([0, 0, 1, 2]), "can_hire": rng.random() < 0.5},
            "compliance": {
                "regimes": chosen,
                "air_gapped": "government" in chosen and rng.random() < 0.5,
                "baa_available": rng.random() < 0.5,
                "clinical_workflow": "hipaa" in chosen and rng.random() < 0.3,
                "model_audit_required": "finance" in chosen and rng.random() < 0.3,
                "data_residency": rng.choice([[], [], ["eu"], ["us"]]),
            },
            "infrastructure": {"gpu_procurement": rng.choice(["none", "cloud_reserved", "on_prem"])},
        }
        profiles.append(profile)
    return profiles
