"""Hostile input, class by class: each gets a 4xx problem naming the reason (and the field where there is one),
and none leaves anything stored: no record, no idempotency key."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient
from sqlalchemy import func, select

from advisor.store.tables import idempotency_keys
from tests.factories import profile_dict

Client = TestClient[Litestar]
sqlite_only = pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
JSON = {"content-type": "application/json"}
BASE = json.dumps(profile_dict())[1:-1]  # the members of a valid profile, to splice raw text into


def raw(members: str) -> bytes:
    return ("{" + members + "}").encode()


def stored(app: Litestar) -> tuple[int, int]:
    services = app.state.services
    with services.engine.connect() as conn:
        keys = conn.execute(select(func.count()).select_from(idempotency_keys)).scalar_one()
    return services.repository.count(), int(keys)


# (name, body bytes, status, problem type, field or None)
CASES: list[tuple[str, bytes, int, str, str | None]] = [
    # Duplicate member names, at any depth: ambiguous (parsers disagree on which one wins).
    ("duplicate top-level field", raw(BASE + ', "team": {"ml_infra_engineers": 5}'), 400, "duplicate-field", "team"),
    ("duplicate nested field", raw('"organization": {"name": "A", "name": "B"}, "workload": {"daily_tokens": 1}, '
                                   '"team": {"ml_infra_engineers": 0}'), 400, "duplicate-field", "organization.name"),
    ("duplicate key in a map", raw(BASE + ', "assumptions": {"overrides": {"engineer_annual_usd": 1, '
                                          '"engineer_annual_usd": 2}}'),
     400, "duplicate-field", "assumptions.overrides.engineer_annual_usd"),
    # Not JSON numbers.
    ("NaN", raw(BASE.replace("100000", "NaN")), 400, "malformed-json", None),
    ("Infinity", raw(BASE.replace("100000", "Infinity")), 400, "malformed-json", None),
    ("-Infinity", raw(BASE.replace("100000", "-Infinity")), 400, "malformed-json", None),
    # Huge numbers.
    ("integer past the range", raw(BASE.replace("100000", "1" + "0" * 400)), 400, "invalid-field",
     "workload.daily_tokens"),
    ("integer of 5000 digits", raw(BASE.replace("100000", "9" * 5000)), 400, "malformed-json", None),
    ("float past double", raw(BASE.replace("100000", "1e400")), 400, "invalid-field", "workload.daily_tokens"),
    ("huge float where a share goes", raw(BASE + ', "requirements": {}, "assumptions": {"utilisation_target": 1e308}'),
     400, "invalid-field", "assumptions.utilisation_target"),
    # Very long strings (the body itself stays under the 64 KiB limit).
    ("long name", raw(BASE.replace('"Acme"', json.dumps("x" * 201))), 400, "invalid-field", "organization.name"),
    ("60 KB industry", raw(BASE.replace('"Acme"', '"Acme", "industry": ' + json.dumps("x" * 60_000))), 400,
     "invalid-field", "organization.industry"),
    ("long override name", raw(BASE + ', "assumptions": {"overrides": {' + json.dumps("a" * 65) + ": 1}}"), 400,
     "invalid-field", "assumptions.overrides"),
    # Oversized lists and maps.
    ("33 residency regions", raw(BASE + ', "compliance": {"data_residency": '
                                 + json.dumps([f"r{chr(97 + i // 26)}{chr(97 + i % 26)}" for i in range(33)]) + "}"),
     400, "invalid-field", "compliance.data_residency"),
    ("5 regimes", raw(BASE + ', "compliance": {"regimes": ["hipaa", "gdpr", "finance", "government", "hipaa"]}'),
     400, "invalid-field", "compliance.regimes"),
    ("65 overrides", raw(BASE + ', "assumptions": {"overrides": '
                         + json.dumps({f"k{i}": 1 for i in range(65)}) + "}"), 400, "invalid-field",
     "assumptions.overrides"),
    # Bad Unicode.
    ("invalid UTF-8 byte", raw(BASE).replace(b"Acme", b"Ac\xffme"), 400, "malformed-json", None),
    ("overlong UTF-8", raw(BASE).replace(b"Acme", b"Ac\xc0\xafme"), 400, "malformed-json", None),
    ("UTF-8-encoded surrogate", raw(BASE).replace(b"Acme", b"Ac\xed\xa0\x80me"), 400, "malformed-json", None),
    # Characters no store can hold: the field is named.
    ("lone high surrogate", raw(BASE.replace("Acme", "Ac\\ud800me")), 400, "invalid-field", "organization.name"),
    ("lone low surrogate", raw(BASE.replace("Acme", "Ac\\udc00me")), 400, "invalid-field", "organization.name"),
    ("high surrogate at the end", raw(BASE.replace("Acme", "Acme\\ud83d")), 400, "invalid-field",
     "organization.name"),
    ("NUL in a string", raw(BASE.replace("Acme", "x\\u0000y")), 400, "invalid-field", "organization.name"),
    ("NUL in a member name", raw(BASE + ', "assumptions": {"overrides": {"a\\u0000": 1}}'), 400, "invalid-field",
     "assumptions.overrides.a\\x00"),  # escaped: a problem's text holds no NUL
    # Patterns match whole strings (ECMA-262 `$`, as JSON Schema says): no trailing newline.
    ("trailing newline in a pattern field", raw(BASE + ', "compliance": {"data_residency": ["eu\\n"]}'), 400,
     "invalid-field", "compliance.data_residency[0]"),
    # Nesting deeper than any profile, within the size limit.
    ("deep nesting", raw(BASE + ', "x": ' + "[" * 20_000 + "]" * 20_000), 400, "malformed-json", None),
    ("nesting just past the limit", raw(BASE + ', "x": ' + "[" * 40 + "]" * 40), 400, "malformed-json", None),
    ("deep objects", raw(BASE + ', "x": ' + '{"a":' * 1000 + "1" + "}" * 1000), 400, "malformed-json", None),
]


@sqlite_only
@pytest.mark.parametrize(("name", "body", "status", "kind", "field"), CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("idempotent", [False, True], ids=["plain", "with-idempotency-key"])
def test_hostile_body_is_refused_and_nothing_is_stored(app: Litestar, client: Client, name: str, body: bytes,
                                                       status: int, kind: str, field: str | None,
                                                       idempotent: bool) -> None:
    assert len(body) <= app.state.services.settings.max_body_bytes, "the case must reach the decoder"
    headers = JSON | ({"Idempotency-Key": "hostile-" + name.replace(" ", "-")} if idempotent else {})
    response = client.post("/assess", content=body, headers=headers)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"].endswith("/" + kind)
    assert problem["detail"]
    assert problem.get("field") == field
    assert stored(app) == (0, 0)


def test_a_well_formed_body_with_exact_integers_as_floats_is_accepted(client: Client) -> None:
    """JSON has one number type: 100000.0 is the integer 100000 (as the document's `integer` says)."""
    response = client.post("/assess", content=raw(BASE.replace("100000", "100000.0")), headers=JSON)
    assert response.status_code == 201, response.text
    assert response.json()["profile"]["workload"]["daily_tokens"] == 100000
    fraction = client.post("/assess", content=raw(BASE.replace("100000", "100000.5")), headers=JSON)
    assert fraction.status_code == 400
    assert fraction.json()["field"] == "workload.daily_tokens"


@sqlite_only
def test_a_duplicated_query_parameter_is_refused(app: Litestar, client_as: Callable[..., Client]) -> None:
    response = client_as("reviewer").get("/assessments?decision=managed&decision=hybrid")
    assert response.status_code == 400
    assert response.json()["field"] == "decision"
    assert response.json()["type"].endswith("/duplicate-field")


@sqlite_only
@pytest.mark.parametrize(("body", "headers", "status"), [
    (b"{}", {"content-type": "text/plain"}, 415),
    (b"x" * 70_000, JSON, 413),
    (raw(BASE + ', "organization": {"name": "B"}'), {"content-type": "application/json; charset=utf-8"}, 400),
], ids=["wrong content type", "over the size limit", "duplicate with charset"])
def test_other_refusals_store_nothing(app: Litestar, client: Client, body: bytes, headers: dict[str, str],
                                      status: int) -> None:
    response = client.post("/assess", content=body, headers=headers | {"Idempotency-Key": "k"})
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert stored(app) == (0, 0)


@sqlite_only
def test_duplicates_are_refused_on_every_json_route(client_as: Callable[..., Client]) -> None:
    admin = client_as("admin")
    response = admin.post("/clients", content=b'{"name": "a", "role": "reviewer", "role": "admin"}', headers=JSON)
    assert response.status_code == 400
    assert response.json()["field"] == "role"
    bad = admin.post("/clients", content=b'{"name": "\xff", "role": "reviewer"}', headers=JSON)
    assert bad.status_code == 400
    assert "UTF-8" in bad.json()["detail"]


@sqlite_only
def test_an_unexpected_error_is_a_bare_500_and_stores_nothing(app: Litestar, client: Client,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(*_args: Any) -> Any:
        raise RuntimeError("secret internals: /etc/passwd at 0xdeadbeef")

    monkeypatch.setattr(app.state.services.advisor, "assess", explode)
    response = client.post("/assess", json=profile_dict(), headers={"Idempotency-Key": "boom"})
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"].endswith("/internal-error")
    assert "secret" not in response.text
    assert "Traceback" not in response.text
    assert stored(app) == (0, 0)  # the claimed key was released too
