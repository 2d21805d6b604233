"""Typical profiles, one per archetype, for the OpenAPI document's ``Profile`` schema.

Each is also a file in ``examples/`` (``examples/<name>.json``, the same JSON) that an integrator
can post as it is; ``tests/api/test_examples.py`` keeps the two equal and checks each answer.
"""

from __future__ import annotations

from typing import Any, Final

PROFILE_EXAMPLES: Final[dict[str, dict[str, Any]]] = {
    "validation-startup": {
        "organization": {"name": "Acme Analytics", "industry": "software"},
        "workload": {"daily_tokens": 100000, "volume_certainty": "validation"},
        "team": {"ml_infra_engineers": 0},
    },
    "hospital-baa": {
        "organization": {"name": "Riverside Health", "industry": "healthcare"},
        "workload": {"daily_tokens": 5000000, "capability": "mid", "output_share": 0.3, "volume_certainty": "growing"},
        "team": {"ml_infra_engineers": 1, "can_hire": True},
        "compliance": {"regimes": ["hipaa"], "baa_available": True},
    },
    "eu-bank-residency": {
        "organization": {"name": "Nordbank AG", "industry": "banking"},
        "workload": {"daily_tokens": 20000000, "capability": "mid", "output_share": 0.25,
                     "volume_certainty": "steady"},
        "team": {"ml_infra_engineers": 3, "can_hire": True},
        "compliance": {"regimes": ["finance", "gdpr"], "data_residency": ["eu"]},
    },
    "air-gapped-agency": {
        "organization": {"name": "National Records Agency", "industry": "government"},
        "workload": {"daily_tokens": 5000000, "capability": "mid", "output_share": 0.3, "volume_certainty": "steady"},
        "team": {"ml_infra_engineers": 2, "can_hire": True},
        "compliance": {"regimes": ["government"], "air_gapped": True},
    },
    "consumer-app-high-volume": {
        "organization": {"name": "Chatterly", "industry": "consumer software"},
        "workload": {"daily_tokens": 3000000000, "capability": "mid", "output_share": 0.3, "peak_to_average": 2.5,
                     "volume_certainty": "steady"},
        "team": {"ml_infra_engineers": 6, "can_hire": True},
    },
    "latency-critical": {
        "organization": {"name": "QuickQuote Trading", "industry": "fintech"},
        "workload": {"daily_tokens": 50000000, "capability": "small", "output_share": 0.2, "latency_p95_ms": 40,
                     "volume_certainty": "steady"},
        "team": {"ml_infra_engineers": 3, "can_hire": True},
    },
    "support-desk": {
        "organization": {"name": "HelpHub Support", "industry": "customer service"},
        "workload": {"daily_tokens": 300000000, "capability": "frontier", "output_share": 0.25,
                     "simple_task_share": 0.7, "volume_certainty": "steady"},
        "team": {"ml_infra_engineers": 2, "can_hire": True},
    },
}
