"""Bad input gets a problem+json 4xx naming the field, and nothing is stored."""

from __future__ import annotations

import json
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from tests.factories import profile_dict


def count(app: Litestar) -> int:
    total: int = app.state.services.repository.count()
    return total


def with_field(path: str, value: Any) -> dict[str, Any]:
    body = profile_dict()
    *parents, leaf = path.split(".")
    node = body
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = value
    return body


CASES = [
    ("wrong type", with_field("workload.daily_tokens", "100"), "workload.daily_tokens"),
    ("negative volume", with_field("workload.daily_tokens", -1), "workload.daily_tokens"),
    ("share above 1", with_field("workload.output_share", 1.5), "workload.output_share"),
    ("peak below 1", with_field("workload.peak_to_average", 0.5), "workload.peak_to_average"),
    ("zero latency", with_field("workload.latency_p95_ms", 0), "workload.latency_p95_ms"),
    ("unknown capability", with_field("workload.capability", "huge"), "workload.capability"),
    ("unknown regime", with_field("compliance.regimes", ["sox"]), "compliance.regimes[0]"),
    ("duplicate regime", with_field("compliance.regimes", ["hipaa", "hipaa"]), "compliance.regimes"),
    ("empty name", with_field("organization.name", ""), "organization.name"),
    ("long name", with_field("organization.name", "x" * 201), "organization.name"),
    ("unknown field", with_field("workload.tokens_per_day", 5), "workload.tokens_per_day"),
    ("unknown top-level field", with_field("extra", {"a": 1}), "extra"),
    ("missing field", {"organization": {"name": "A"}, "workload": {}, "team": {"ml_infra_engineers": 0}},
     "workload.daily_tokens"),
    ("bad procurement", with_field("infrastructure.gpu_procurement", "spot"), "infrastructure.gpu_procurement"),
    ("bool as int", with_field("team.can_hire", 1), "team.can_hire"),
]


@pytest.mark.parametrize(("name", "body", "field"), CASES, ids=[c[0] for c in CASES])
def test_invalid_field_is_named(client: TestClient[Litestar], app: Litestar, name: str, body: dict[str, Any],
                                field: str) -> None:
    response = client.post("/assess", json=body)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"].endswith("/invalid-field")
    assert problem["field"] == field
    assert field in problem["detail"]
    assert count(app) == 0


def test_unknown_catalog_is_422_naming_the_field(client: TestClient[Litestar], app: Litestar) -> None:
    response = client.post("/assess", json=with_field("assumptions.catalog", "nope"))
    assert response.status_code == 422
    assert response.json()["field"] == "assumptions.catalog"
    assert count(app) == 0


def test_unknown_assumption_override_is_422(client: TestClient[Litestar], app: Litestar) -> None:
    response = client.post("/assess", json=with_field("assumptions.overrides", {"gpu_price": 1.0}))
    assert response.status_code == 422
    assert response.json()["field"] == "assumptions.overrides.gpu_price"
    assert count(app) == 0


@pytest.mark.parametrize("raw", [b"{bad", b"", b'{"organization": {', b'{"organization": NaN}', b"\xff\xfe"])
def test_malformed_json_is_400(client: TestClient[Litestar], app: Litestar, raw: bytes) -> None:
    response = client.post("/assess", content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 400, response.text
    assert response.json()["type"].endswith("/malformed-json")
    assert count(app) == 0


def test_wrong_content_type_is_415(client: TestClient[Litestar], app: Litestar) -> None:
    response = client.post("/assess", content=json.dumps(profile_dict()), headers={"content-type": "text/plain"})
    assert response.status_code == 415
    assert count(app) == 0


def test_oversized_body_is_413(client: TestClient[Litestar], app: Litestar) -> None:
    body = with_field("organization.industry", "x" * 70_000)
    response = client.post("/assess", json=body)
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert count(app) == 0


def test_unknown_route_is_problem_json(client: TestClient[Litestar]) -> None:
    response = client.get("/nope")
    assert response.status_code == 404
    assert response.json()["type"].endswith("/not-found")


def test_unknown_assessment_is_404(client: TestClient[Litestar]) -> None:
    response = client.get("/assessments/00000000-0000-0000-0000-000000000000")
    assert response.status_code == 404
    assert "traceback" not in response.text.lower()


def test_an_unknown_region_code_is_400_pointing_at_the_region_table(client: TestClient[Litestar],
                                                                   app: Litestar) -> None:
    response = client.post("/assess", json=with_field("compliance.data_residency", ["eu", "mars"]))
    assert response.status_code == 400
    problem = response.json()
    assert problem["field"] == "compliance.data_residency[1]"
    assert "GET /regions" in problem["detail"]
    assert count(app) == 0


def test_an_override_outside_its_range_is_422_naming_it(client: TestClient[Litestar], app: Litestar) -> None:
    response = client.post("/assess", json=with_field("assumptions.overrides", {"utilisation_target": 0}))
    assert response.status_code == 422
    assert response.json()["field"] == "assumptions.overrides.utilisation_target"
    assert count(app) == 0


def test_a_profile_no_option_can_serve_is_422_saying_why(client: TestClient[Litestar], app: Litestar) -> None:
    body = with_field("compliance.data_residency", ["br"])
    body["workload"]["capability"] = "frontier"
    response = client.post("/assess", json=body)
    assert response.status_code == 422
    assert "no option is both allowed and priceable" in response.json()["detail"]
    assert count(app) == 0
