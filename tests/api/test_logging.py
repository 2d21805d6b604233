"""Logs: JSON lines with the request id (echoed as X-Request-ID), never a credential, no profile by default."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator

import msgspec
import pytest
from litestar import Litestar
from litestar.testing import TestClient

from advisor.logs import JsonFormatter
from advisor.settings import Settings
from tests.conftest import running_app
from tests.factories import profile_dict

Client = TestClient[Litestar]
sqlite_only = pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
MARKER = "Zebra Logistics Unlimited"  # an organisation name: must not be logged unless log_bodies is set


def lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    formatter = JsonFormatter()
    return [formatter.format(record) for record in caplog.records]


def access_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, object]]:
    return [entry for entry in map(json.loads, lines(caplog)) if entry["logger"] == "advisor.access"]


@sqlite_only
def test_every_line_is_json_and_carries_the_request_id(client: Client, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    response = client.post("/assess", json=profile_dict())
    request_id = response.headers["x-request-id"]
    assert len(request_id) == 32
    entries = [json.loads(line) for line in lines(caplog)]
    access = [e for e in entries if e["logger"] == "advisor.access"]
    assert access[-1]["request_id"] == request_id
    assert (access[-1]["method"], access[-1]["path"], access[-1]["status"]) == ("POST", "/assess", 201)
    assert access[-1]["client_id"] == client.headers["Authorization"].split("_")[1]
    assert isinstance(access[-1]["duration_ms"], float)


@sqlite_only
def test_a_sane_incoming_request_id_is_kept_and_others_replaced(client: Client,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    kept = client.get("/rules", headers={"X-Request-ID": "portal-7f3a.42:1"})
    assert kept.headers["x-request-id"] == "portal-7f3a.42:1"
    for bad in ("x" * 129, "has space", "new\\nline", "quote\"s"):
        replaced = client.get("/rules", headers={"X-Request-ID": bad})
        assert replaced.headers["x-request-id"] != bad
        assert len(replaced.headers["x-request-id"]) == 32
    assert access_lines(caplog)[0]["request_id"] == "portal-7f3a.42:1"


@sqlite_only
def test_errors_and_unknown_routes_carry_a_request_id_too(client_as: Callable[..., Client]) -> None:
    anonymous = client_as(None)
    assert anonymous.get("/rules").headers["x-request-id"]  # 401 from the authentication middleware
    assert anonymous.get("/no/such/route").headers["x-request-id"]  # 404 before any route


@sqlite_only
def test_credentials_never_reach_the_logs(client: Client, client_as: Callable[..., Client],
                                          caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    key = client.headers["Authorization"].removeprefix("Bearer ")
    admin = client_as("admin")
    admin_key = admin.headers["Authorization"].removeprefix("Bearer ")
    created = admin.post("/clients", json={"name": "logged", "role": "assessor"}).json()["api_key"]
    client.post("/assess", json=profile_dict())
    forged = key[:-6] + "AAAAAA"
    client_as(None).get("/rules", headers={"Authorization": f"Bearer {forged}"})
    client_as(None).get(f"/assessments/{key}")  # a key where it does not belong
    text = "\n".join(lines(caplog))
    assert access_lines(caplog)
    for secret in (key, admin_key, created, forged, key.split("_", 2)[2]):
        assert secret not in text


def test_the_formatter_scrubs_keys_and_bearer_tokens() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "saw %s and %s", (
        "adv_cl-0123456789abcdef_s3cr3t-Value_x", "Authorization: Bearer opaque.token.value"), None)
    entry = json.loads(JsonFormatter().format(record))
    assert "s3cr3t" not in entry["message"]
    assert "opaque.token.value" not in entry["message"]


@sqlite_only
def test_profiles_are_not_logged_by_default(client: Client, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    assert client.post("/assess", json=profile_dict(organization={"name": MARKER})).status_code == 201
    assert MARKER not in "\n".join(lines(caplog))


@pytest.fixture
def logging_bodies(settings: Settings) -> Iterator[Litestar]:
    with running_app(msgspec.structs.replace(settings, log_bodies=True), migrated=True) as app:
        yield app


@sqlite_only
def test_profiles_are_logged_when_asked(logging_bodies: Litestar, caplog: pytest.LogCaptureFixture) -> None:
    from tests.conftest import authorised, issue_key

    caplog.set_level(logging.INFO)
    with TestClient(logging_bodies) as client:
        authorised(client, issue_key(logging_bodies, "assessor"))
        assert client.post("/assess", json=profile_dict(organization={"name": MARKER})).status_code == 201
    assert MARKER in "\n".join(lines(caplog))
