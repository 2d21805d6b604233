"""The rule loader refuses rule files that would silently never fire or mean something else."""

from __future__ import annotations

from pathlib import Path

import pytest

from advisor.rules.rulebook import RULE_FILE_ORDER, RulebookError, load_rulebook
from advisor.settings import PROJECT_ROOT

RULE = """
[[rule]]
id = "TST-ONE"
title = "t"
category = "checklist"
encodes = "e"
quote = "q"
rationale = "r"
effect = "{effect}"
options = ["managed"]
{extra}
"""


def write_rules(tmp_path: Path, body: str) -> Path:
    for stem in RULE_FILE_ORDER:
        (tmp_path / f"{stem}.toml").write_text(body if stem == "checklist" else "rule = []\n")
    return tmp_path


def test_project_rules_load_with_unique_ids() -> None:
    book = load_rulebook(PROJECT_ROOT / "rules")
    ids = [rule.id for rule in book.rules]
    assert len(ids) == len(set(ids))
    assert len(ids) >= 30
    assert book.digest.startswith("sha256:")


@pytest.mark.parametrize(
    ("extra", "effect", "error"),
    [
        ("when = { air_gaped = true }", "exclude", "unknown fact field 'air_gaped'"),
        ('when = { daily_tokens = { gt = "2000000" } }', "exclude", "expects int"),
        ("when = { air_gapped = 1 }", "exclude", "expects bool"),
        ('cost_item = "integration_monthly_usd"', "exclude", "cost_item goes with effect 'cost'"),
        ("", "cost", "cost_item goes with effect 'cost'"),
        ("decisive = true", "risk", "only a 'prefer' rule can be decisive"),
    ],
)
def test_bad_rules_are_refused(tmp_path: Path, extra: str, effect: str, error: str) -> None:
    with pytest.raises(RulebookError, match=error):
        load_rulebook(write_rules(tmp_path, RULE.format(effect=effect, extra=extra)))


def test_unknown_rule_keys_are_refused(tmp_path: Path) -> None:
    with pytest.raises(RulebookError, match="unknown field `severity`"):
        load_rulebook(write_rules(tmp_path, RULE.format(effect="exclude", extra='severity = "high"')))


def test_duplicate_ids_are_refused(tmp_path: Path) -> None:
    body = RULE.format(effect="exclude", extra="") * 2
    with pytest.raises(RulebookError, match="duplicate rule id TST-ONE"):
        load_rulebook(write_rules(tmp_path, body))


def test_digest_changes_when_a_rule_changes(tmp_path: Path) -> None:
    first = load_rulebook(write_rules(tmp_path, RULE.format(effect="exclude", extra=""))).digest
    second = load_rulebook(write_rules(tmp_path, RULE.format(effect="risk", extra=""))).digest
    assert first != second
