"""Access control: every route by every kind of caller, revocation, ownership, the requester in the record."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from typing import Any

import msgspec
import pytest
from litestar import Litestar
from litestar.testing import TestClient
from sqlalchemy import select

from advisor.app import create_app
from advisor.audit.record import SignedPayload
from advisor.auth.clients import ClientStore, Role
from advisor.settings import Settings
from advisor.store.tables import clients, records
from tests.conftest import authorised, issue_key, running_app
from tests.factories import profile_dict

Client = TestClient[Litestar]
sqlite_only = pytest.mark.parametrize("settings", ["sqlite"], indirect=True)

ALL = frozenset(Role)
READERS = frozenset({Role.ASSESSOR, Role.REVIEWER, Role.AUDITOR})
# Who may call what. A route missing here (or here but not in the app) fails test_every_route_is_classified:
# a new route must be placed in this table, i.e. someone decides who may call it.
PROTECTED: dict[tuple[str, str], frozenset[Role]] = {
    ("POST", "/assess"): frozenset({Role.ASSESSOR}),
    ("GET", "/assessments"): READERS,
    ("GET", "/assessments/{record_id}"): READERS,
    ("GET", "/assessments/{record_id}/verification"): frozenset({Role.AUDITOR}),
    ("GET", "/assessments/{record_id}/proof"): READERS,
    # Reviewers and auditors reassess any record; an assessor its own (another client's is 404, not 403).
    ("POST", "/assessments/{record_id}/reassess"): READERS,
    ("GET", "/audit/consistency"): frozenset({Role.AUDITOR}),
    ("GET", "/audit/checkpoint"): frozenset({Role.AUDITOR}),
    ("GET", "/rules"): ALL,
    ("GET", "/catalogs"): ALL,
    ("GET", "/catalogs/{catalog_id}"): ALL,
    ("GET", "/regions"): ALL,
    ("GET", "/clients"): frozenset({Role.ADMIN}),
    ("POST", "/clients"): frozenset({Role.ADMIN}),
    ("GET", "/clients/{client_id}"): frozenset({Role.ADMIN}),
    ("POST", "/clients/{client_id}/revoke"): frozenset({Role.ADMIN}),
    ("GET", "/metrics"): frozenset({Role.MONITOR, Role.ADMIN}),
    # The review board's analysis (an assessor only over its own records: 404 for another's, as on reads).
    ("GET", "/assessments/{record_id}/curve"): READERS,
    ("GET", "/assessments/{record_id}/compare/{other_id}"): READERS,
    ("POST", "/what-if"): READERS,
    ("POST", "/assessments/{record_id}/reviews"): frozenset({Role.REVIEWER}),
    ("GET", "/assessments/{record_id}/reviews"): READERS,
    ("GET", "/assessments/{record_id}/adr"): READERS,
}
# The pages (tests/api/test_ui.py checks who may open each, signed in with a session rather than a key).
UI_PAGES: dict[tuple[str, str], frozenset[Role] | None] = {
    ("GET", "/ui/sign-in"): None, ("POST", "/ui/sign-in"): None, ("POST", "/ui/sign-out"): None,
    ("GET", "/ui"): READERS,
    ("GET", "/ui/assessments/{record_id}"): READERS,
    ("GET", "/ui/assessments/{record_id}/adr"): READERS,
    ("POST", "/ui/assessments/{record_id}/reviews"): frozenset({Role.REVIEWER}),
    ("GET", "/ui/assessments/{record_id}/verification"): frozenset({Role.AUDITOR}),
    ("GET", "/ui/static/{file_path}"): None, ("HEAD", "/ui/static/{file_path}"): None,
}
PUBLIC = {("GET", "/health"), ("GET", "/ready"), ("GET", "/.well-known/jwks.json"), ("GET", "/docs"),
          ("GET", "/docs/openapi.json"), ("GET", "/docs/swagger"), ("GET", "/docs/{path}"),
          ("GET", "/docs/oauth2-redirect.html"), ("GET", "/docs/assets/{file_path}"),
          ("HEAD", "/docs/assets/{file_path}")}


def app_routes(app: Litestar) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for route in app.routes:
        path = re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path)
        for handler in getattr(route, "route_handlers", ()):
            found.update((method, path) for method in handler.http_methods if method != "OPTIONS")
    return found


def request(client: Client, method: str, path: str, record_id: str) -> int:
    concrete = path.format(record_id=record_id, other_id=record_id, catalog_id="sourced-2026-12",
                           client_id="cl-0000000000000000")
    if method == "POST" and path in ("/assess", "/what-if"):
        body = profile_dict() if path == "/assess" else {"profile": profile_dict()}
        return client.post(concrete, json=body).status_code
    if method == "POST" and path.endswith("/reviews"):
        return client.post(concrete, json={"verdict": "accept"}).status_code
    if method == "POST" and path == "/clients":
        return client.post(concrete, json={"name": "matrix", "role": "reviewer"}).status_code
    return client.request(method, concrete).status_code


def test_every_route_is_classified(app: Litestar) -> None:
    assert app_routes(app) == set(PROTECTED) | PUBLIC | set(UI_PAGES)


@sqlite_only
@pytest.mark.parametrize(("method", "path"), sorted(PROTECTED), ids=[f"{m} {p}" for m, p in sorted(PROTECTED)])
def test_role_matrix(app: Litestar, client: Client, client_as: Callable[..., Client], method: str, path: str) -> None:
    """No key and a revoked key: 401 with a Bearer challenge; each role: 403 unless the route admits it."""
    record_id = client.post("/assess", json=profile_dict()).json()["id"]  # the default client's own record
    admitted = PROTECTED[(method, path)]
    callers = {role.value: client_as(role) for role in Role}
    store = ClientStore(app.state.services.db)
    revoked_key = issue_key(app, sorted(admitted)[0], "revoked")  # a role the route admits, but revoked
    store.revoke(store.find("revoked")[0].id)
    callers |= {"no key": client_as(None), "revoked key": authorised(TestClient(app), revoked_key)}

    outcome: dict[str, Any] = {who: request(caller, method, path, record_id) for who, caller in callers.items()}
    expected = {"no key": 401, "revoked key": 401,
                **{role.value: "allowed" if role in admitted else 403 for role in Role}}
    seen = {who: "allowed" if expected[who] == "allowed" and status not in (401, 403) else status
            for who, status in outcome.items()}
    assert seen == expected


@sqlite_only
@pytest.mark.parametrize(("method", "path"), sorted(PUBLIC))
def test_public_routes_need_no_key_and_ignore_a_bad_one(client_as: Callable[..., Client], method: str,
                                                        path: str) -> None:
    anonymous = client_as(None)
    concrete = path.format(path="nothing-here", file_path="swagger-ui.css")
    assert anonymous.request(method, concrete).status_code not in (401, 403)
    anonymous.headers["Authorization"] = "Bearer adv_cl-0000000000000000_wrong"
    assert anonymous.request(method, concrete).status_code not in (401, 403)


def test_missing_or_bad_credentials_are_401_problems_with_a_challenge(client_as: Callable[..., Client],
                                                                      client: Client) -> None:
    anonymous = client_as(None)
    cases = {
        "missing": ({}, None),
        "not bearer": ({"Authorization": "Basic dXNlcjpwYXNz"}, "invalid_request"),
        "empty bearer": ({"Authorization": "Bearer "}, "invalid_request"),
        "not one of ours": ({"Authorization": "Bearer abc"}, "invalid_token"),
        "unknown client": ({"Authorization": "Bearer adv_cl-0123456789abcdef_secret"}, "invalid_token"),
        "wrong secret": ({"Authorization": client.headers["Authorization"][:-4] + "AAAA"}, "invalid_token"),
    }
    for name, (headers, error) in cases.items():
        response = anonymous.get("/rules", headers=headers)
        assert response.status_code == 401, name
        assert response.headers["content-type"] == "application/problem+json", name
        assert response.json()["type"].endswith("/unauthorized"), name
        challenge = response.headers["www-authenticate"]
        assert challenge.startswith('Bearer realm="llm-hosting-advisor"'), name
        assert (f'error="{error}"' in challenge) if error else ("error=" not in challenge), name


def test_wrong_role_is_a_403_problem(client: Client) -> None:
    response = client.get("/clients")
    assert response.status_code == 403
    assert response.json()["type"].endswith("/forbidden")


def test_keys_are_stored_only_as_hashes(app: Litestar) -> None:
    key = issue_key(app, Role.REVIEWER, "hashed")
    with app.state.services.engine.connect() as conn:
        rows = [tuple(str(v) for v in row) for row in conn.execute(select(clients))]
    assert not any(key in value for row in rows for value in row)
    assert any(hashlib.sha256(key.encode()).hexdigest() in row for row in rows)


@pytest.mark.parametrize("settings", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
                         indirect=True)
def test_revocation_takes_effect_at_once_in_every_replica(settings: Settings, app: Litestar, client: Client,
                                                          client_as: Callable[..., Client]) -> None:
    """Two app instances on one database (two replicas): a revocation through one stops the key in both."""
    other_replica = create_app(settings)
    try:
        key = issue_key(app, Role.REVIEWER, "to-revoke")
        here, there = authorised(TestClient(app), key), authorised(TestClient(other_replica), key)
        assert (here.get("/rules").status_code, there.get("/rules").status_code) == (200, 200)
        client_id = key.split("_")[1]
        admin = client_as(Role.ADMIN)
        assert admin.post(f"/clients/{client_id}/revoke").json()["active"] is False
        assert (here.get("/rules").status_code, there.get("/rules").status_code) == (401, 401)
    finally:
        other_replica.state.services.engine.dispose()


def test_an_assessor_gets_404_for_another_clients_record(client: Client, client_as: Callable[..., Client]) -> None:
    other = client_as(Role.ASSESSOR, "other-portal")
    theirs = other.post("/assess", json=profile_dict()).json()["id"]
    mine = client.post("/assess", json=profile_dict()).json()["id"]
    assert client.get(f"/assessments/{mine}").status_code == 200
    foreign = client.get(f"/assessments/{theirs}")
    missing = client.get("/assessments/00000000-0000-0000-0000-000000000000")
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json()["type"] == missing.json()["type"]  # indistinguishable from a record that does not exist
    for role in (Role.REVIEWER, Role.AUDITOR):
        assert client_as(role).get(f"/assessments/{theirs}").status_code == 200


def test_the_requester_is_the_client_id_inside_the_signed_record(app: Litestar, client: Client) -> None:
    body = client.post("/assess", json=profile_dict()).json()
    client_id = client.headers["Authorization"].split("_")[1]
    assert body["requester"] == client_id
    with app.state.services.engine.connect() as conn:
        row = conn.execute(select(records.c.payload, records.c.requester).where(records.c.id == body["id"])).one()
    assert row.requester == client_id
    assert msgspec.json.decode(row.payload.encode(), type=SignedPayload).requester == client_id


def test_admins_manage_clients_and_see_a_key_only_once(client: Client, client_as: Callable[..., Client]) -> None:
    admin = client_as(Role.ADMIN)
    created = admin.post("/clients", json={"name": "hr-portal", "role": "assessor"})
    assert created.status_code == 201, created.text
    new = created.json()
    assert new["api_key"].startswith(f"adv_{new['id']}_")
    assert created.headers["location"] == f"/clients/{new['id']}"
    assert created.headers["cache-control"] == "no-store"
    listed = admin.get("/clients")
    assert new["id"] in listed.text
    assert "api_key" not in listed.text
    assert new["api_key"] not in listed.text
    assert "api_key" not in admin.get(f"/clients/{new['id']}").text
    portal = client_as(None)
    portal.headers["Authorization"] = f"Bearer {new['api_key']}"
    assert portal.post("/assess", json=profile_dict()).status_code == 201
    assert admin.post(f"/clients/{new['id']}/revoke").json()["revoked_at"]
    assert portal.post("/assess", json=profile_dict()).status_code == 401
    assert admin.post("/clients", json={"name": "x", "role": "root"}).status_code == 400
    assert admin.post("/clients", json={"name": "x", "role": "reviewer", "extra": 1}).status_code == 400


def test_the_last_active_admin_cannot_be_revoked(app: Litestar, client_as: Callable[..., Client]) -> None:
    admin = client_as(Role.ADMIN, "only-admin")
    admin_id = admin.headers["Authorization"].split("_")[1]
    response = admin.post(f"/clients/{admin_id}/revoke")
    assert response.status_code == 409
    assert response.json()["type"].endswith("/last-admin")
    assert admin.get("/clients").status_code == 200


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_without_auth_required_a_keyless_caller_is_anonymous_but_bad_keys_still_fail(settings: Settings) -> None:
    keyless = msgspec.structs.replace(settings, auth_required=False)
    with running_app(keyless, migrated=True) as app, TestClient(app) as anonymous:
        created = anonymous.post("/assess", json=profile_dict())
        assert created.status_code == 201
        assert created.json()["requester"] == "anonymous"
        assert anonymous.get("/clients").status_code == 403  # never an admin
        assert anonymous.get("/rules", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_the_document_declares_the_bearer_scheme_and_the_problems() -> None:
    import json

    from advisor.cli.main import OPENAPI_PATH

    document = json.loads(OPENAPI_PATH.read_text())
    assert document["components"]["securitySchemes"]["bearer"] == {
        "type": "http", "scheme": "bearer", "description": document["components"]["securitySchemes"]["bearer"][
            "description"]}
    assert document["security"] == [{"bearer": []}]
    for path, item in document["paths"].items():
        for method, operation in item.items():
            assert not path.startswith("/ui"), "the pages are not part of the API document"
            public = (method.upper(), path) in PUBLIC
            assert (operation.get("security") == [{}]) is public, (method, path)
            if not public:
                assert {"401", "403", "429"} <= set(operation["responses"]), (method, path)
                assert all("application/problem+json" in operation["responses"][code]["content"]
                           for code in ("401", "403", "429"))
    assert {"409", "422"} <= set(document["paths"]["/assess"]["post"]["responses"])
    header = next(p for p in document["paths"]["/assess"]["post"]["parameters"] if p["name"] == "Idempotency-Key")
    assert (header["in"], header["required"]) == ("header", False)
