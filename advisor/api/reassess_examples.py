"""Examples for the OpenAPI document: the drift of two real changes (tests/replay_fixtures.py).

Produced by replaying a stored record under a changed catalog (a managed model's token prices
doubled) and under a changed rule (CHK-VALIDATION moved to growing volumes).
"""

from __future__ import annotations

from typing import Any

PRICE_CHANGE: dict[str, Any] = {
    "decision_before": "managed",
    "decision_after": "self_hosted",
    "strength_before": "marginal",
    "strength_after": "marginal",
    "flipped": True,
    "flip_cause": "prices",
    "decision_old_rules_new_catalog": "self_hosted",
    "options": [
        {
            "option": "managed",
            "before": "68250.00",
            "after": "74850.00",
            "change": "6600.00",
            "price_effect": "6600.00",
            "rule_effect": "0.00",
            "eligible_before": True,
            "eligible_after": True,
        },
        {
            "option": "self_hosted",
            "before": "72274.77",
            "after": "72274.77",
            "change": "0.00",
            "price_effect": "0.00",
            "rule_effect": "0.00",
            "eligible_before": True,
            "eligible_after": True,
        },
        {
            "option": "hybrid",
            "before": "68250.00",
            "after": "74850.00",
            "change": "6600.00",
            "price_effect": "6600.00",
            "rule_effect": "0.00",
            "eligible_before": False,
            "eligible_after": False,
        },
    ],
    "rules_newly_firing": [],
    "rules_stopped_firing": [],
    "rules_digest_before": "sha256:1a255ed1aa6e9295edfcc4083ea913926a41bcf39eb007700ba26007adb7e106",
    "rules_digest_after": "sha256:1a255ed1aa6e9295edfcc4083ea913926a41bcf39eb007700ba26007adb7e106",
    "catalog_digest_before": "sha256:7ecd6fbd3dccdb1034ccf2417967b3af775dd2d171c89368b696fa5ba1023704",
    "catalog_digest_after": "sha256:d8bc819a8c92c23b8dacd4714381ad6643894ddfed34e70bb864d585be393716",
    "split": "known",
    "split_basis": "the rules are unchanged: every change is a price effect",
}
RULE_CHANGE: dict[str, Any] = {
    "decision_before": "managed",
    "decision_after": "self_hosted",
    "strength_before": "clear",
    "strength_after": "clear",
    "flipped": True,
    "flip_cause": "rules",
    "decision_old_rules_new_catalog": "managed",
    "options": [
        {
            "option": "managed",
            "before": "182250.00",
            "after": "182250.00",
            "change": "0.00",
            "price_effect": "0.00",
            "rule_effect": "0.00",
            "eligible_before": True,
            "eligible_after": True,
        },
        {
            "option": "self_hosted",
            "before": "92685.57",
            "after": "92685.57",
            "change": "0.00",
            "price_effect": "0.00",
            "rule_effect": "0.00",
            "eligible_before": True,
            "eligible_after": True,
        },
        {
            "option": "hybrid",
            "before": "182250.00",
            "after": "182250.00",
            "change": "0.00",
            "price_effect": "0.00",
            "rule_effect": "0.00",
            "eligible_before": False,
            "eligible_after": False,
        },
    ],
    "rules_newly_firing": [],
    "rules_stopped_firing": ["CHK-VALIDATION"],
    "rules_digest_before": "sha256:1a255ed1aa6e9295edfcc4083ea913926a41bcf39eb007700ba26007adb7e106",
    "rules_digest_after": "sha256:64848c4cbaa1ed3ac68b81df83e60e93283459ad4ea9b0621268f455146d2c86",
    "catalog_digest_before": "sha256:7ecd6fbd3dccdb1034ccf2417967b3af775dd2d171c89368b696fa5ba1023704",
    "catalog_digest_after": "sha256:7ecd6fbd3dccdb1034ccf2417967b3af775dd2d171c89368b696fa5ba1023704",
    "split": "known",
    "split_basis": "the old rules (sha256:1a255ed1aa6e9295edfcc4083ea913926a41bcf39eb007700ba26007adb7e106) replayed "
    "with the new catalog give the price effect; the rest is the rule effect",
}
DRIFT_EXAMPLES = [PRICE_CHANGE, RULE_CHANGE]
