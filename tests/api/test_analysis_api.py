"""The review board's analysis over HTTP: curve, what-if and compare, who may ask, and bad input."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from tests.factories import profile_dict

Client = TestClient[Litestar]
pytestmark = pytest.mark.parametrize("settings", ["sqlite"], indirect=True)

NEAR_BREAK_EVEN = profile_dict(workload={"daily_tokens": 50_000_000, "simple_task_share": 0.6},
                               team={"ml_infra_engineers": 2})


def _assess(client: Client, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/assess", json=body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def test_the_curve_repeats_the_records_numbers_at_its_volume(client: Client) -> None:
    record = _assess(client, NEAR_BREAK_EVEN)
    response = client.get(f"/assessments/{record['id']}/curve", params={"points": 7})
    assert response.status_code == 200, response.text
    curve = response.json()
    assert curve["same_versions"] is True
    assert curve["versions"]["rules_digest"] == record["versions"]["rules_digest"]
    own = [p for p in curve["points"] if p["profile"]]
    assert [p["daily_tokens"] for p in own] == [record["profile"]["workload"]["daily_tokens"]]
    assert own[0]["decision"] == record["decision"]
    for option in curve["options"]:
        assert Decimal(own[0]["monthly_usd"][option]) == Decimal(record["options"][option]["monthly_usd"])
    # 7 log-spaced volumes (an odd count has the profile's own in the middle), ascending
    assert len(curve["points"]) == 7
    assert [p["daily_tokens"] for p in curve["points"]] == sorted(p["daily_tokens"] for p in curve["points"])
    assert len(client.get(f"/assessments/{record['id']}/curve").json()["points"]) == 25  # the default


@pytest.mark.parametrize(("params", "field"), [({"points": 2}, "points"), ({"points": 201}, "points"),
                                               ({"points": "many"}, "points"), ({"point": 5}, "point")])
def test_bad_curve_parameters_are_400_naming_them(client: Client, params: dict[str, Any], field: str) -> None:
    record = _assess(client, NEAR_BREAK_EVEN)
    response = client.get(f"/assessments/{record['id']}/curve", params=params)
    assert response.status_code == 400, response.text
    assert response.json()["field"] == field


def test_what_if_on_a_stored_record_matches_what_if_on_its_profile(client: Client) -> None:
    record = _assess(client, NEAR_BREAK_EVEN)
    shocks = {"managed_price": 0.3, "daily_tokens": 1.5}
    by_id = client.post("/what-if", json={"assessment_id": record["id"], "shocks": shocks, "points": 5})
    by_profile = client.post("/what-if", json={"profile": NEAR_BREAK_EVEN, "shocks": shocks, "points": 5})
    assert by_id.status_code == by_profile.status_code == 200, by_id.text
    body = by_id.json()
    assert body["recommendation"]["profile"]["workload"]["daily_tokens"] == 75_000_000
    assert {(f["factor"], f["direction"]) for f in body["flips"]} == {
        (f, d) for f in ("managed_price", "gpu_price", "engineer_cost", "daily_tokens") for d in ("up", "down")}
    for key in ("flips", "curve"):
        assert body[key] == by_profile.json()[key]
    assert body["recommendation"]["decision"] == by_profile.json()["recommendation"]["decision"]


@pytest.mark.parametrize(("body", "field"), [
    ({"profile": NEAR_BREAK_EVEN, "shocks": {"managed_price": -1}}, "shocks.managed_price"),
    ({"profile": NEAR_BREAK_EVEN, "shocks": {"gpu_price": 10}}, "shocks.gpu_price"),
    ({"profile": NEAR_BREAK_EVEN, "shocks": {"daily_tokens": 0}}, "shocks.daily_tokens"),
    ({"profile": NEAR_BREAK_EVEN, "shocks": {"engineer_cost": "high"}}, "shocks.engineer_cost"),
    ({"profile": NEAR_BREAK_EVEN, "shocks": {"fuel": 0.1}}, "shocks.fuel"),
    ({"profile": NEAR_BREAK_EVEN, "points": 1}, "points"),
    ({"shocks": {}}, "profile"),
    ({"profile": NEAR_BREAK_EVEN, "assessment_id": "x"}, "profile"),
    ({"profile": profile_dict(workload={"daily_tokens": 10**15}), "shocks": {"daily_tokens": 2}},
     "shocks.daily_tokens"),
])
def test_bad_what_if_bodies_are_400_naming_the_field(client: Client, body: dict[str, Any], field: str) -> None:
    response = client.post("/what-if", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["field"] == field


def test_an_engineer_shock_past_the_assumptions_range_is_422_naming_it(client: Client) -> None:
    body = {"profile": profile_dict(assumptions={"overrides": {"engineer_annual_usd": 4_000_000}}),
            "shocks": {"engineer_cost": 1.0}}
    response = client.post("/what-if", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["field"] == "shocks.engineer_cost"


def test_compare_shows_what_changed_with_deltas(client: Client) -> None:
    a = _assess(client, NEAR_BREAK_EVEN)
    b = _assess(client, profile_dict(workload={"daily_tokens": 120_000_000, "simple_task_share": 0.6},
                                     team={"ml_infra_engineers": 0}))
    response = client.get(f"/assessments/{a['id']}/compare/{b['id']}")
    assert response.status_code == 200, response.text
    found = response.json()
    assert {(c["path"], c["a"], c["b"]) for c in found["profile_changes"]} == {
        ("workload.daily_tokens", 50_000_000, 120_000_000), ("team.ml_infra_engineers", 2, 0)}
    assert found["version_changes"] == []
    assert (found["outcome"]["decision_a"], found["outcome"]["decision_b"]) == (a["decision"], b["decision"])
    for row in found["options"]:
        before, after = a["options"][row["option"]], b["options"][row["option"]]
        assert row["monthly_usd_a"] == before["monthly_usd"]
        assert row["monthly_usd_b"] == after["monthly_usd"]
        if before["monthly_usd"] is not None and after["monthly_usd"] is not None:
            assert Decimal(row["delta_usd"]) == Decimal(after["monthly_usd"]) - Decimal(before["monthly_usd"])
            assert sum(Decimal(line["delta_usd"]) for line in row["line_items"]) == Decimal(row["delta_usd"])
    rules_a, rules_b = {f["rule_id"] for f in a["findings"]}, {f["rule_id"] for f in b["findings"]}
    assert {f["rule_id"] for f in found["findings_added"]} == rules_b - rules_a != set()
    assert {f["rule_id"] for f in found["findings_removed"]} == rules_a - rules_b


def test_an_assessor_analyses_only_its_own_records_reviewers_and_auditors_every_one(
        client: Client, client_as: Callable[..., Client]) -> None:
    mine = _assess(client, NEAR_BREAK_EVEN)["id"]
    other = client_as("assessor", "other-portal")
    theirs = _assess(other, NEAR_BREAK_EVEN)["id"]
    calls: list[Callable[[Client], int]] = [
        lambda c: c.get(f"/assessments/{theirs}/curve", params={"points": 3}).status_code,
        lambda c: c.get(f"/assessments/{theirs}/compare/{theirs}").status_code,
        lambda c: c.get(f"/assessments/{mine}/compare/{theirs}").status_code,
        lambda c: c.post("/what-if", json={"assessment_id": theirs, "points": 3}).status_code,
    ]
    assert [call(client) for call in calls] == [404, 404, 404, 404]  # as GET /assessments/{id}: not revealed
    assert [call(other) for call in calls[:2]] == [200, 200]
    for role in ("reviewer", "auditor"):
        assert [call(client_as(role)) for call in calls] == [200, 200, 200, 200]
    assert client.get(f"/assessments/{mine}/curve", params={"points": 3}).status_code == 200


def test_unknown_query_parameters_are_refused_on_every_route(client: Client, client_as: Callable[..., Client]) -> None:
    record = _assess(client, NEAR_BREAK_EVEN)["id"]
    reviewer = client_as("reviewer")
    for path in ("/assessments", f"/assessments/{record}", "/rules", "/catalogs", "/regions",
                 f"/assessments/{record}/proof"):
        response = reviewer.get(path, params={"organisation": "Acme", "flavour": "x"})
        assert response.status_code == 400, path
        assert response.json()["field"] == "organisation"
        assert "`organisation`, `flavour`" in response.json()["detail"]
    assert reviewer.get("/docs/openapi.json", params={"v": "1"}).status_code == 200
