"""Two recommendations side by side: versions, profile fields, options and findings, deltas as b - a."""

from __future__ import annotations

from decimal import Decimal

from advisor.analysis.compare import compare, field_changes
from advisor.application.evaluate import Advisor
from tests.factories import make_profile


def test_a_catalog_change_shows_as_versions_and_per_line_deltas(advisor: Advisor) -> None:
    a = advisor.assess(make_profile(workload={"daily_tokens": 5_000_000}, team={"ml_infra_engineers": 1}))
    b = advisor.assess(make_profile(workload={"daily_tokens": 5_000_000}, team={"ml_infra_engineers": 1},
                                    assumptions={"catalog": "article-2026-05"}))
    found = compare("a", a, "b", b)
    assert {c.field for c in found.version_changes} == {"catalog_id", "catalog_digest"}
    assert [(c.path, c.a, c.b) for c in found.profile_changes] == [("assumptions.catalog", None, "article-2026-05")]
    for row in found.options:
        before, after = a.options.get(row.option), b.options.get(row.option)
        assert (row.monthly_usd_a, row.monthly_usd_b) == (before.monthly_usd, after.monthly_usd)
        if row.delta_usd is not None:
            assert row.delta_usd == sum((line.delta_usd for line in row.line_items), Decimal(0))
        categories = {i.category for i in before.line_items} | {i.category for i in after.line_items}
        assert {line.category for line in row.line_items} == categories


def test_the_same_recommendation_compares_equal(advisor: Advisor) -> None:
    a = advisor.assess(make_profile())
    found = compare("a", a, "a", a)
    assert (found.profile_changes, found.version_changes, found.findings_added, found.findings_removed) == (
        (), (), (), ())
    assert not found.outcome.changed
    assert all(row.delta_usd in (None, Decimal(0)) for row in found.options)


def test_findings_added_and_removed_follow_the_rules_that_fired(advisor: Advisor) -> None:
    a = advisor.assess(make_profile(team={"ml_infra_engineers": 0}))
    b = advisor.assess(make_profile(team={"ml_infra_engineers": 2}))
    found = compare("a", a, "b", b)
    fired_a, fired_b = {f.rule_id for f in a.findings}, {f.rule_id for f in b.findings}
    assert {f.rule_id for f in found.findings_removed} == fired_a - fired_b != set()
    assert {f.rule_id for f in found.findings_added} == fired_b - fired_a


def test_field_changes_walk_objects_and_compare_lists_whole() -> None:
    a = {"x": {"y": 1, "z": [1, 2]}, "gone": True}
    b = {"x": {"y": 2, "z": [1, 2]}, "new": "v"}
    assert [(c.path, c.a, c.b) for c in field_changes(a, b)] == [
        ("x.y", 1, 2), ("gone", True, None), ("new", None, "v")]
