"""Eligibility, the risk-ranked choice over crossing volumes, and strength (pure, no catalog)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import pytest

from advisor.domain.decision import NoEligibleOption, Threshold, decide, exclusions
from advisor.domain.profile import OPTION_NAMES, OptionName
from advisor.domain.rules import EffectKind, Rule


def rule(rule_id: str, effect: EffectKind, options: tuple[OptionName, ...], **kwargs: Any) -> Rule:
    return Rule(id=rule_id, title=rule_id, category="checklist", encodes="e", quote="q", rationale="r",
                effect=effect, options=options, **kwargs)


NONE: dict[OptionName, tuple[str, ...]] = dict.fromkeys(OPTION_NAMES, ())


def costs(managed: int | None, self_hosted: int | None, hybrid: int | None) -> dict[OptionName, Decimal | None]:
    return {"managed": None if managed is None else Decimal(managed),
            "self_hosted": None if self_hosted is None else Decimal(self_hosted),
            "hybrid": None if hybrid is None else Decimal(hybrid)}


Crossings = Mapping[tuple[str, str], int | None]


def crossings(table: Crossings, tie: Crossings | None = None) -> Threshold:
    def threshold(riskier: OptionName, safer: OptionName, factor: Decimal) -> int | None:
        if factor != 1 and tie is not None:
            return tie.get((riskier, safer))
        return table.get((riskier, safer))
    return threshold


def test_a_riskier_option_is_chosen_from_the_volume_where_it_stays_cheaper() -> None:
    table = {("self_hosted", "managed"): 1_000}
    below = decide([], NONE, costs(100, 90, None), 999, crossings(table))
    above = decide([], NONE, costs(100, 50, None), 1_000, crossings(table))
    assert below.option == "managed"
    assert below.strength == "marginal"
    assert above.option == "self_hosted"
    assert above.strength == "clear"


def test_never_sustained_means_never_chosen() -> None:
    d = decide([], NONE, costs(100, 50, None), 10**12, crossings({("self_hosted", "managed"): None}))
    assert d.option == "managed"
    assert "does not stay cheaper" in d.reason


def test_a_soft_finding_for_the_safer_option_demands_the_tie_band() -> None:
    prefer_managed = [rule("CHK-SAFE", "prefer", ("managed",))]
    table, tie = {("self_hosted", "managed"): 1_000}, {("self_hosted", "managed"): 5_000}
    inside = decide(prefer_managed, NONE, costs(100, 95, None), 2_000, crossings(table, tie))
    beyond = decide(prefer_managed, NONE, costs(100, 80, None), 5_000, crossings(table, tie))
    assert inside.option == "managed"
    assert beyond.option == "self_hosted"


def test_a_soft_finding_for_the_riskier_option_changes_nothing() -> None:
    prefer_self = [rule("CHK-STABLE", "prefer", ("self_hosted",))]
    d = decide(prefer_self, NONE, costs(100, 95, None), 999, crossings({("self_hosted", "managed"): 1_000}))
    assert d.option == "managed"


def test_mandatory_only_when_rules_exclude_every_other_option() -> None:
    excluded: dict[OptionName, tuple[str, ...]] = {"managed": ("OVR-X",), "hybrid": ("OVR-X",), "self_hosted": ()}
    d = decide([], excluded, costs(100, 500, 100), 1, crossings({}))
    assert d.option == "self_hosted"
    assert d.strength == "mandatory"
    assert "OVR-X" in d.reason


def test_a_catalog_gap_is_unknown_never_a_mandate() -> None:
    excluded: dict[OptionName, tuple[str, ...]] = {"managed": (), "hybrid": ("RTE-X",), "self_hosted": ()}
    d = decide([], excluded, costs(None, 500, None), 1, crossings({}))
    assert d.option == "self_hosted"
    assert d.strength == "clear"
    assert d.unknown == ("managed",)


def test_a_decisive_preference_wins_where_eligible() -> None:
    validation = [rule("CHK-VALIDATION", "prefer", ("managed",), decisive=True)]
    d = decide(validation, NONE, costs(1000, 10, None), 10**9, crossings({("self_hosted", "managed"): 0}))
    assert d.option == "managed"
    assert d.strength == "clear"


def test_no_eligible_option_is_an_error() -> None:
    with pytest.raises(NoEligibleOption):
        decide([], NONE, costs(None, None, None), 1, crossings({}))


def test_unless_sole_exclusions_yield_when_nothing_else_is_allowed() -> None:
    staff = rule("OVR-NO-STAFF", "exclude", ("self_hosted",), unless_sole=("managed",),
                 hybrid_variants=("self_hosted_small",))
    air = rule("OVR-AIR", "exclude", ("managed", "hybrid"))
    alone = exclusions([staff], ["managed", "self_hosted", "hybrid"])
    assert alone.by_option["self_hosted"] == ("OVR-NO-STAFF",)
    assert alone.hybrid_variants == {"self_hosted_small": ("OVR-NO-STAFF",)}
    with_air = exclusions([staff, air], ["managed", "self_hosted", "hybrid"])
    assert with_air.by_option["self_hosted"] == ()
    assert staff not in with_air.applied
    unpriced = exclusions([staff], ["self_hosted", "hybrid"])  # no managed offering could be priced
    assert unpriced.by_option["self_hosted"] == ()
