"""Eligibility, ranking and strength."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from advisor.domain.decision import NoEligibleOption, decide
from advisor.domain.profile import OptionName
from advisor.domain.rules import EffectKind, Rule


def rule(rule_id: str, effect: EffectKind, options: tuple[OptionName, ...], **kwargs: Any) -> Rule:
    return Rule(
        id=rule_id,
        title=rule_id,
        category="checklist",
        encodes="e",
        quote="q",
        rationale="r",
        effect=effect,
        options=options,
        **kwargs,
    )


COSTS: dict[OptionName, Decimal | None] = {
    "managed": Decimal(1000),
    "self_hosted": Decimal(5000),
    "hybrid": Decimal(3000),
}


def test_cheapest_eligible_option_wins_clearly() -> None:
    decision = decide([], COSTS)
    assert (decision.option, decision.strength) == ("managed", "clear")


def test_one_eligible_option_is_mandatory_and_names_the_excluding_rules() -> None:
    fired = [rule("OVR-X", "exclude", ("managed", "hybrid"))]
    decision = decide(fired, COSTS)
    assert (decision.option, decision.strength) == ("self_hosted", "mandatory")
    assert "OVR-X" in decision.reason
    assert decision.excluded_by["managed"] == ("OVR-X",)


def test_a_decisive_preference_wins_where_eligible() -> None:
    fired = [rule("CHK-V", "prefer", ("self_hosted",), decisive=True)]
    assert decide(fired, COSTS).option == "self_hosted"
    excluded = [*fired, rule("OVR-Y", "exclude", ("self_hosted",))]
    assert decide(excluded, COSTS).option == "managed"


def test_within_ten_percent_the_soft_findings_decide() -> None:
    close: dict[OptionName, Decimal | None] = {
        "managed": Decimal(1000),
        "self_hosted": Decimal(1090),
        "hybrid": Decimal(9000),
    }
    fired = [rule("CHK-A", "prefer", ("self_hosted",), weight=3)]
    decision = decide(fired, close)
    assert (decision.option, decision.strength) == ("self_hosted", "marginal")
    assert decide([], close).option == "managed"  # no preference: the cheaper one


def test_just_over_ten_percent_is_clear() -> None:
    apart: dict[OptionName, Decimal | None] = {
        "managed": Decimal(1000),
        "self_hosted": Decimal("1100.01"),
        "hybrid": Decimal(9000),
    }
    decision = decide([rule("CHK-A", "prefer", ("self_hosted",), weight=3)], apart)
    assert (decision.option, decision.strength) == ("managed", "clear")


def test_unpriceable_options_are_not_eligible() -> None:
    decision = decide([], {"managed": None, "self_hosted": Decimal(5000), "hybrid": None})
    assert (decision.option, decision.strength) == ("self_hosted", "mandatory")


def test_no_eligible_option_is_an_error() -> None:
    with pytest.raises(NoEligibleOption):
        decide([rule("OVR-ALL", "exclude", ("managed", "self_hosted", "hybrid"))], COSTS)
