"""Any valid profile gets a coherent recommendation: no crash, an eligible decision, exact sums."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec
from hypothesis import given, settings

from advisor.domain.profile import OPTION_NAMES, Profile
from advisor.service import Advisor
from tests.strategies import profile_bodies


@given(profile_bodies())
@settings(max_examples=150, deadline=None)
def test_every_valid_profile_gets_a_coherent_recommendation(advisor: Advisor, body: dict[str, Any]) -> None:
    recommendation = advisor.assess(msgspec.convert(body, Profile))
    chosen = recommendation.options.get(recommendation.decision)
    assert chosen.eligible
    eligible = [o for o in OPTION_NAMES if recommendation.options.get(o).eligible]
    assert (recommendation.strength == "mandatory") == (len(eligible) == 1)
    for option in OPTION_NAMES:
        assessed = recommendation.options.get(option)
        if assessed.monthly_usd is not None:
            assert assessed.monthly_usd == sum((i.monthly_usd for i in assessed.line_items), Decimal(0))
    fired = {f.rule_id for f in recommendation.findings}
    for option in OPTION_NAMES:
        assert set(recommendation.options.get(option).excluded_by) <= fired
