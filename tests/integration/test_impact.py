"""``advisor impact`` as a rules repository's CI runs it: on a log of a few thousand signed records.

The log cycles three profiles over ten organisations: one that the rule change flips, one that the
price change flips, one that neither does; one record of the first kind is superseded by a
reassessment (also of the first kind), so it is not counted twice.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgspec
import pytest
from litestar import Litestar
from sqlalchemy import func, select

from advisor.audit.record import Columns, recommendation_bytes
from advisor.services import Services
from advisor.store.tables import metadata
from advisor.store.writer import Draft
from tests.factories import make_profile
from tests.replay_fixtures import MID_STEADY, MID_VALIDATION, SMALL_STEADY, changed_catalogs, changed_rules
from tests.signed_log import in_process_writer

pytestmark = pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
RECORDS = 3000
KINDS = (MID_VALIDATION, MID_STEADY, SMALL_STEADY)
ORGS = 10


def fill(services: Services, count: int) -> dict[str, int]:
    """``count`` records (kind ``i % 3``, organisation ``i % 10``) and one reassessment; chain heads per kind."""
    recommendations = {(kind, org): services.advisor.assess(make_profile(organization={"name": f"Org {org}"}, **parts))
                       for kind, parts in enumerate(KINDS) for org in range(ORGS)}
    drafts = []
    for i in range(count):
        recommendation = recommendations[(i % 3, i % ORGS)]
        drafts.append(Draft(id=str(uuid.uuid4()), requester="cl-00000000000000a1",
                            recommendation_raw=recommendation_bytes(recommendation),
                            columns=Columns.of(recommendation)))
    writer = in_process_writer(services)
    for first in range(0, len(drafts), 500):
        writer.append_sync(drafts[first:first + 500])
    again = msgspec.structs.replace(recommendations[(0, 0)], supersedes=drafts[0].id)
    writer.append_sync([Draft(id=str(uuid.uuid4()), requester="cl-00000000000000b2",
                              recommendation_raw=recommendation_bytes(again), columns=Columns.of(again))])
    return {"rule_flips": len(range(0, count, 3)), "price_flips": len(range(1, count, 3))}


def impact(services: Services, *args: str) -> subprocess.CompletedProcess[str]:
    settings = services.settings
    env = {k: v for k, v in os.environ.items() if not k.startswith("ADVISOR_")}
    env.update(ADVISOR_DATABASE_URL=settings.database_url, ADVISOR_KEYS_DIR=str(settings.keys_dir))
    return subprocess.run([sys.executable, "-m", "advisor", "impact", *args], capture_output=True, text=True,
                          env=env, check=False, timeout=600)


def report(result: subprocess.CompletedProcess[str]) -> Any:
    return msgspec.json.decode(result.stdout)


def row_counts(services: Services) -> dict[str, int]:
    with services.engine.connect() as conn:
        return {name: int(conn.execute(select(func.count()).select_from(table)).scalar_one())
                for name, table in metadata.tables.items()}


def flips(found: Any) -> dict[str, int]:
    return {f"{f['before']}->{f['after']}": f["count"] for f in found["flips"]}


def test_impact_counts_the_known_flips_writes_nothing_and_exits_3(app: Litestar, tmp_path: Path) -> None:
    services: Services = app.state.services
    expected = fill(services, RECORDS)
    counts = row_counts(services)

    unchanged = impact(services, "--json", "--no-progress")
    assert unchanged.returncode == 0, unchanged.stderr
    assert report(unchanged)["flipped"] == 0
    assert report(unchanged)["chains"] == RECORDS  # the superseded record is not replayed, its successor is
    assert report(unchanged)["superseded"] == 1

    rules = str(changed_rules(tmp_path))
    by_rules = impact(services, "--rules", rules, "--json")
    assert by_rules.returncode == 3, by_rules.stderr
    found = report(by_rules)
    assert flips(found) == {"managed->self_hosted": expected["rule_flips"]}
    assert found["by_rule"] == {"CHK-VALIDATION": expected["rule_flips"]}
    assert sum(found["by_organization"].values()) == expected["rule_flips"]
    assert all(e["cause"] == "rules" for e in found["flips"][0]["examples"])
    assert float(found["monthly_cost_change"]) < 0  # self-hosting is cheaper where the preference let go
    assert "records" in by_rules.stderr  # the progress bar

    by_prices = impact(services, "--catalogs", str(changed_catalogs(tmp_path)), "--json", "--no-progress")
    assert by_prices.returncode == 3, by_prices.stderr
    found = report(by_prices)
    assert flips(found) == {"managed->self_hosted": expected["price_flips"]}
    assert found["by_rule"] == {"(catalog prices)": expected["price_flips"]}
    assert float(found["monthly_cost_change"]) > 0  # every managed choice got dearer

    one_org = impact(services, "--rules", rules, "--organization", "Org 3", "--json",
                     "--no-progress")
    assert report(one_org)["flipped"] == len([i for i in range(0, RECORDS, 3) if i % ORGS == 3])
    assert report(one_org)["by_organization"] == {"Org 3": report(one_org)["flipped"]}
    text = impact(services, "--rules", rules, "--no-progress", "--decision", "managed")
    assert text.returncode == 3
    assert f"managed -> self_hosted: {expected['rule_flips']}" in text.stdout
    assert row_counts(services) == counts


@pytest.mark.parametrize("args", [("--rules", "/nonexistent"), ("--created-from", "yesterday"),
                                  ("--decision", "cheapest")])
def test_usage_errors_exit_2(app: Litestar, args: Sequence[str]) -> None:
    result = impact(app.state.services, *args)
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""


def test_rules_that_do_not_load_are_a_usage_error(app: Litestar, tmp_path: Path) -> None:
    broken = changed_rules(tmp_path)
    (broken / "routing.toml").write_text("[[rule]]\nid = 'nope'\n", encoding="utf-8")
    result = impact(app.state.services, "--rules", str(broken))
    assert result.returncode == 2
    assert "do not load" in result.stderr
