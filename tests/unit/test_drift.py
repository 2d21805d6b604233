"""Drift between a stored recommendation and a replay: the split adds up, and each flip has the right cause."""

from __future__ import annotations

from pathlib import Path

import pytest

from advisor.application.evaluate import Advisor
from advisor.application.reassess import Replayer
from advisor.domain.drift import flip_cause
from advisor.settings import Settings
from advisor.workers.evaluators import build_advisor
from tests.factories import make_profile
from tests.replay_fixtures import MID_STEADY, MID_VALIDATION, SMALL_STEADY, changed_catalogs, changed_rules


@pytest.fixture(scope="module")
def both_changed(tmp_path_factory: pytest.TempPathFactory) -> Advisor:
    scratch: Path = tmp_path_factory.mktemp("both")
    return build_advisor(Settings(rules_dir=changed_rules(scratch), catalogs_dir=changed_catalogs(scratch)))


@pytest.mark.parametrize("parts", [MID_STEADY, MID_VALIDATION, SMALL_STEADY,
                                   {"workload": {"daily_tokens": 1_100_000_000, "volume_certainty": "growing",
                                                 "capability": "mid"}, "team": {"ml_infra_engineers": 3}}])
def test_price_and_rule_effects_add_up_to_the_change(advisor: Advisor, both_changed: Advisor,
                                                     parts: dict[str, dict[str, object]]) -> None:
    before = advisor.assess(make_profile(**parts))
    drift = Replayer(both_changed, None, known=[advisor.rulebook]).replay(before).drift
    assert drift.split == "known"
    for moved in drift.options:
        if moved.change is None:
            continue
        assert moved.price_effect is not None
        assert moved.rule_effect is not None
        assert moved.price_effect + moved.rule_effect == moved.change


def test_each_change_is_attributed_to_its_cause(advisor: Advisor, both_changed: Advisor) -> None:
    replay = Replayer(both_changed, None, known=[advisor.rulebook])
    by_prices = replay.replay(advisor.assess(make_profile(**MID_STEADY))).drift
    by_rules = replay.replay(advisor.assess(make_profile(**MID_VALIDATION))).drift
    assert (by_prices.flip_cause, by_prices.decision_old_rules_new_catalog) == ("prices", "self_hosted")
    assert (by_rules.flip_cause, by_rules.rules_stopped_firing) == ("rules", ("CHK-VALIDATION",))
    # Growing volume: the price change alone would self-host, the moved rule keeps it managed. No flip, but
    # the bridge shows the two effects cancelling.
    growing = replay.replay(advisor.assess(make_profile(workload={
        "daily_tokens": 1_100_000_000, "volume_certainty": "growing", "capability": "mid"},
        team={"ml_infra_engineers": 3}))).drift
    assert (growing.decision_before, growing.decision_old_rules_new_catalog, growing.decision_after) == (
        "managed", "self_hosted", "managed")
    assert growing.flip_cause is None
    assert growing.rules_newly_firing == ("CHK-VALIDATION",)


def test_flip_cause() -> None:
    assert flip_cause("managed", "managed", "managed") is None
    assert flip_cause("managed", None, "hybrid") is None  # no bridge: unknown, not guessed
    assert flip_cause("managed", "hybrid", "hybrid") == "prices"
    assert flip_cause("managed", "managed", "hybrid") == "rules"
    assert flip_cause("managed", "self_hosted", "hybrid") == "both"
    assert flip_cause("managed", "hybrid", "managed") is None  # the two effects cancel: nothing flipped
