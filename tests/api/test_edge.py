"""The strict door (advisor/api/strict_json.py): what the stores cannot hold never reaches them, on every route
and both databases; every JSON route takes JSON only; every invalid field is listed at once."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from litestar import Litestar
from litestar.testing import TestClient

from advisor.auth.clients import ClientStore
from tests.factories import profile_dict

Client = TestClient[Litestar]
JSON = {"content-type": "application/json"}


@pytest.mark.parametrize("parameter", ["organization", "requester", "rules_digest", "created_from", "cursor"])
def test_nul_in_a_query_parameter_is_400_naming_it(client_as: Callable[..., Client], parameter: str) -> None:
    response = client_as("auditor").get(f"/assessments?{parameter}=abc%00def")
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["field"] == parameter
    assert "U+0000" in response.json()["detail"]


def test_nul_in_a_query_parameter_name_is_400_shown_escaped(client_as: Callable[..., Client]) -> None:
    """The problem names the parameter, but never carries the NUL itself (Problem fields are NUL-free)."""
    response = client_as("auditor").get("/assessments?ab%00c=1")
    assert response.status_code == 400, response.text
    problem = response.json()
    assert problem["field"] == "ab\\x00c"
    assert "\x00" not in response.text
    assert "\x00" not in problem["detail"]


@pytest.mark.parametrize(("method", "path", "role", "field"), [
    ("GET", "/assessments/abc%00def", "auditor", "record_id"),
    ("GET", "/assessments/abc%00def/verification", "auditor", "record_id"),
    ("GET", "/assessments/abc%00def/proof", "auditor", "record_id"),
    ("GET", "/clients/abc%00def", "admin", "client_id"),
    ("POST", "/clients/abc%00def/revoke", "admin", "client_id"),
    ("GET", "/catalogs/abc%00def", "reviewer", "catalog_id"),
])
def test_nul_in_a_path_parameter_is_400_naming_it(client_as: Callable[..., Client], method: str, path: str,
                                                  role: str, field: str) -> None:
    response = client_as(role).request(method, path)
    assert response.status_code == 400, response.text
    assert response.json()["field"] == field


def test_nul_in_a_profile_is_400_and_stores_nothing(app: Litestar, client: Client) -> None:
    body = profile_dict(organization={"name": "x\u0000y", "industry": "ok"})
    response = client.post("/assess", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["field"] == "organization.name"
    assert app.state.services.repository.count() == 0


def test_nul_in_a_client_name_is_400(app: Litestar, client_as: Callable[..., Client]) -> None:
    response = client_as("admin").post("/clients", json={"name": "a\u0000b", "role": "reviewer"})
    assert response.status_code == 400, response.text
    assert response.json()["field"] == "name"


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_post_clients_takes_json_only_so_a_duplicate_role_cannot_make_an_admin(
        app: Litestar, client_as: Callable[..., Client], content_type: str | None) -> None:
    before = len(ClientStore(app.state.services.db).all())
    headers = {"content-type": content_type} if content_type else {}
    response = client_as("admin").post("/clients", content=b'{"name":"x","role":"assessor","role":"admin"}',
                                       headers=headers)
    assert response.status_code == 415, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert len(ClientStore(app.state.services.db).all()) == before + 1  # only the admin client_as made


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
@pytest.mark.parametrize("content_type", ["text/plain", "application/json"])
def test_post_clients_deep_nesting_is_a_4xx_not_a_500(client_as: Callable[..., Client], content_type: str) -> None:
    body = b'{"name": "x", "role": "admin", "x": ' + b"[" * 1000 + b"]" * 1000 + b"}"
    response = client_as("admin").post("/clients", content=body, headers={"content-type": content_type})
    assert response.status_code == (415 if content_type == "text/plain" else 400), response.text


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
@pytest.mark.parametrize("name", ["x\n", "", "bad/name", " lead"])
def test_client_names_match_the_whole_pattern(client_as: Callable[..., Client], name: str) -> None:
    response = client_as("admin").post("/clients", json={"name": name, "role": "reviewer"})
    assert response.status_code == 400, response.text
    assert response.json()["field"] == "name"


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_every_invalid_field_of_a_profile_is_listed_at_once(app: Litestar, client: Client) -> None:
    body = profile_dict(organization={"name": ""}, workload={"daily_tokens": -1, "output_share": 2, "extra": 1},
                        compliance={"data_residency": ["eu\n"], "regimes": ["sox"]})
    del body["team"]
    response = client.post("/assess", json=body)
    assert response.status_code == 400, response.text
    problem = response.json()
    fields = {e["field"] for e in problem["errors"]}
    assert fields >= {"organization.name", "workload.daily_tokens", "workload.output_share", "workload.extra",
                      "compliance.data_residency[0]", "compliance.regimes[0]", "team"}
    assert problem["field"] in fields
    assert all(e["detail"] for e in problem["errors"])
    assert app.state.services.repository.count() == 0


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_one_invalid_field_still_has_its_errors_list(client: Client) -> None:
    response = client.post("/assess", json=profile_dict(workload={"daily_tokens": "100"}))
    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == ["workload.daily_tokens"]


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
@pytest.mark.parametrize("value", [
    "9999-12-31T23:59:59-23:59",  # past year 9999 in UTC: was an OverflowError (500)
    "0001-01-01T00:00:00+01:00",  # before year 1 in UTC
    "2026-W01-1T00:00:00Z",  # ISO week date
    "20260101T000000Z",  # compact form
    "2026-01-01 00:00:00Z",  # a space for T
    "2026-01-01T00:00:00",  # no offset
    "2026-01-01T00:00:00Z\n",  # trailing newline
    "2026-01-01T00:00:00+24:00",  # offset out of range
    "2026-02-30T00:00:00Z",  # no such day
    "\u0662\u0660\u0662\u0666-01-01T00:00:00Z",  # not ASCII digits
])
def test_created_bounds_are_strict_rfc_3339(client_as: Callable[..., Client], value: str) -> None:
    for field in ("created_from", "created_to"):
        response = client_as("reviewer").get("/assessments", params={field: value})
        assert response.status_code == 400, (value, response.text)
        assert response.json()["field"] == field


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
@pytest.mark.parametrize("value", ["2026-01-01T00:00:00Z", "2026-01-01t00:00:00z",
                                   "2026-01-01T00:00:00.123456789+05:30", "9999-12-31T23:59:59Z",
                                   "0001-01-01T00:00:00-01:00"])
def test_rfc_3339_bounds_are_accepted(client_as: Callable[..., Client], value: str) -> None:
    response = client_as("reviewer").get("/assessments", params={"created_from": value})
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
@pytest.mark.parametrize("value", ["1e2", "100.0", " 5", "+5", "0x10", "\u0665"])  # the last: ARABIC-INDIC DIGIT FIVE
def test_integer_query_parameters_are_integers(client_as: Callable[..., Client], value: str) -> None:
    response = client_as("reviewer").get("/assessments", params={"limit": value})
    assert response.status_code == 400, response.text
    assert response.json()["field"] == "limit"
    assert client_as("reviewer").get("/assessments", params={"limit": "5"}).status_code == 200


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
@pytest.mark.parametrize(("path", "name"), [("/audit/consistency", "from"), ("/audit/consistency", "to"),
                                            ("/assessments/nope/proof", "tree_size")])
@pytest.mark.parametrize("value", ["1e2", "100.0", " 5", "+5", "\u0665"])
def test_renamed_and_optional_integer_query_parameters_are_integers(client_as: Callable[..., Client], path: str,
                                                                    name: str, value: str) -> None:
    """The proof routes' parameters are named apart from their Python names (``from``) and may be absent."""
    params = {"from": "1", name: value} if path == "/audit/consistency" else {name: value}  # proof takes no `from`
    response = client_as("auditor").get(path, params=params)
    assert response.status_code == 400, response.text
    assert response.json()["field"] == name


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
@pytest.mark.parametrize(("path", "params", "name"), [("/audit/consistency", {"from": "0"}, "from"),
                                                      ("/audit/consistency", {"from": "1", "to": "0"}, "to"),
                                                      ("/audit/consistency", {"from": "9007199254740992"}, "from"),
                                                      ("/assessments/nope/proof", {"tree_size": "0"}, "tree_size")])
def test_out_of_range_query_parameters_are_named_as_sent(client_as: Callable[..., Client], path: str,
                                                         params: dict[str, str], name: str) -> None:
    response = client_as("auditor").get(path, params=params)
    assert response.status_code == 400, response.text
    assert response.json()["field"] == name
    assert f"`{name}`" in response.json()["detail"]


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_two_authorization_headers_are_400(app: Litestar, client: Client,
                                          client_as: Callable[..., Client]) -> None:
    key = client.headers["Authorization"]
    anonymous = client_as(None)
    request = anonymous.build_request("GET", "/rules")
    request.headers = httpx.Headers([*request.headers.multi_items(), ("Authorization", key),
                                     ("Authorization", "Bearer adv_other")])
    response = anonymous.send(request)
    assert response.status_code == 400, response.text
    assert response.json()["field"] == "Authorization"
    assert client.get("/rules").status_code == 200


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_post_clients_has_the_body_size_limit(app: Litestar, client_as: Callable[..., Client]) -> None:
    before = len(ClientStore(app.state.services.db).all())
    body = b'{"name": "big", "role": "reviewer", "x": "' + b"a" * 70_000 + b'"}'
    response = client_as("admin").post("/clients", content=body, headers=JSON)
    assert response.status_code == 413, response.text
    assert len(ClientStore(app.state.services.db).all()) == before + 1  # only the admin client_as made


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_a_nul_in_a_member_name_is_named_escaped(client: TestClient[Litestar]) -> None:
    body = {"organization": {"name": "x"}, "workload": {"daily_tokens": 1}, "team": {"ml_infra_engineers": 0},
            "assumptions": {"overrides": {"a\u0000b": 1.0}}}
    response = client.post("/assess", json=body)
    assert response.status_code == 400
    problem = response.json()
    assert problem["field"] == "assumptions.overrides.a\\x00b"
    assert "\u0000" not in response.text
    assert "\\u0000" not in response.text
