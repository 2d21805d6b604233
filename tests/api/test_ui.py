"""The pages: sign-in and its cookie, CSRF, expiry, revocation, replicas, and who may open which page."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import msgspec
import pytest
from litestar import Litestar
from litestar.testing import TestClient

from advisor.app import create_app
from advisor.auth.clients import ClientStore, Role
from advisor.settings import Settings
from advisor.ui.session import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    TlsAwareSessionBackend,
    session_config,
    session_values,
    ui_secret,
)
from tests.api.test_access import UI_PAGES
from tests.conftest import issue_key
from tests.factories import profile_dict

Client = TestClient[Litestar]
pytestmark = pytest.mark.parametrize("settings", ["sqlite"], indirect=True)


def csrf(client: Client) -> str:
    """Open the sign-in page (it sets the CSRF cookie) and return the form's token."""
    page = client.get("/ui/sign-in")
    found = re.search(r'name="_csrf_token" value="([^"]+)"', page.text)
    assert found is not None
    return found.group(1)


def sign_in(client: Client, key: str) -> str:
    token = csrf(client)
    response = client.post("/ui/sign-in", data={"api_key": key, "_csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303, response.text
    return token


@pytest.fixture
def browser(app: Litestar, client: Client) -> Client:
    """A cookie-keeping client with no API key: a person's browser (of the app ``client`` started)."""
    return TestClient(app)


@pytest.fixture
def record_id(client: Client) -> str:
    return str(client.post("/assess", json=profile_dict()).json()["id"])


def test_sign_in_sets_a_strict_expiring_http_only_cookie(app: Litestar, browser: Client, record_id: str) -> None:
    assert browser.get("/ui/", follow_redirects=False).headers["location"] == "/ui/sign-in?next=%2Fui"
    token = csrf(browser)
    response = browser.post("/ui/sign-in", data={"api_key": issue_key(app, Role.REVIEWER), "_csrf_token": token,
                                                 "next": "/ui/"}, follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (303, "/ui/")
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith(f"{SESSION_COOKIE}="))
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "max-age", "path"} <= attributes
    assert "samesite=strict" in cookie.lower()
    assert "secure" not in attributes  # plain HTTP here; see the TLS test
    assert "adv_" not in cookie  # never the key
    page = browser.get(f"/ui/assessments/{record_id}")
    assert page.status_code == 200
    assert "Acme" in page.text


def test_over_tls_the_cookie_is_secure(app: Litestar, client: Client) -> None:
    tls = TestClient(app, base_url="https://testserver.local")
    token = csrf(tls)
    response = tls.post("/ui/sign-in", data={"api_key": issue_key(app, Role.REVIEWER), "_csrf_token": token},
                        follow_redirects=False)
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith(f"{SESSION_COOKIE}="))
    assert "secure" in {part.strip().lower() for part in cookie.split(";")}


def test_a_wrong_key_and_an_outside_next_are_refused(app: Litestar, browser: Client) -> None:
    token = csrf(browser)
    wrong = browser.post("/ui/sign-in", data={"api_key": "adv_cl-0000000000000000_nope", "_csrf_token": token})
    assert wrong.status_code == 401
    assert "unknown or revoked" in wrong.text
    assert SESSION_COOKIE not in browser.cookies
    redirected = browser.post("/ui/sign-in", data={"api_key": issue_key(app, Role.REVIEWER), "_csrf_token": token,
                                                   "next": "https://elsewhere.example/ui/"}, follow_redirects=False)
    assert redirected.headers["location"] == "/ui/"


def test_forms_need_the_csrf_token_and_this_origin(app: Litestar, browser: Client, record_id: str) -> None:
    key = issue_key(app, Role.REVIEWER)
    csrf(browser)
    assert browser.post("/ui/sign-in", data={"api_key": key}).status_code == 403  # no token
    assert browser.post("/ui/sign-in", data={"api_key": key, "_csrf_token": "0" * 128}).status_code == 403
    token = sign_in(browser, key)
    review = {"verdict": "accept", "_csrf_token": token}
    other = browser.post(f"/ui/assessments/{record_id}/reviews", data=review,
                         headers={"Origin": "https://elsewhere.example"}, follow_redirects=False)
    assert other.status_code == 403
    cross = browser.post(f"/ui/assessments/{record_id}/reviews", data=review,
                         headers={"Sec-Fetch-Site": "cross-site"}, follow_redirects=False)
    assert cross.status_code == 403
    no_token = browser.post(f"/ui/assessments/{record_id}/reviews", data={"verdict": "accept"},
                            follow_redirects=False)
    assert no_token.status_code == 403
    assert browser.get(f"/assessments/{record_id}/reviews").status_code == 401  # the cookie is not an API key
    done = browser.post(f"/ui/assessments/{record_id}/reviews", data=review,
                        headers={"Origin": "http://testserver.local"}, follow_redirects=False)
    assert done.status_code == 303
    assert 'id="status">accepted' in browser.get(f"/ui/assessments/{record_id}").text


def test_an_expired_session_is_refused(app: Litestar, browser: Client, settings: Settings, record_id: str) -> None:
    store = ClientStore(app.state.services.db)
    key = issue_key(app, Role.REVIEWER, "expiring")
    client_id = store.find("expiring")[0].id
    backend = TlsAwareSessionBackend(session_config(ui_secret(settings.ui_secret_path()), 60))
    for until, status in ((datetime.now(UTC) + timedelta(minutes=5), 200),
                          (datetime.now(UTC) - timedelta(seconds=1), 303)):
        forged = b"".join(backend.dump_data(session_values(client_id, until))).decode()
        browser.cookies.clear()  # only the forged session, not the one the last response renewed
        browser.cookies.set(SESSION_COOKIE, forged, path="/ui")
        assert browser.get(f"/ui/assessments/{record_id}", follow_redirects=False).status_code == status
    assert key  # the key itself was never needed: the session names the client


def test_a_revoked_client_is_signed_out_on_its_next_request(app: Litestar, browser: Client, record_id: str,
                                                            client_as: Callable[..., Client]) -> None:
    sign_in(browser, issue_key(app, Role.REVIEWER, "leaving"))
    assert browser.get("/ui/").status_code == 200
    store = ClientStore(app.state.services.db)
    store.revoke(store.find("leaving")[0].id)
    response = browser.get(f"/ui/assessments/{record_id}", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/ui/sign-in")
    cleared = [c for c in response.headers.get_list("set-cookie") if c.startswith(f"{SESSION_COOKIE}=")]
    assert cleared
    assert "null" in cleared[0]


def test_the_session_works_in_another_replica(app: Litestar, settings: Settings, browser: Client,
                                              record_id: str) -> None:
    sign_in(browser, issue_key(app, Role.REVIEWER))
    other = create_app(settings)  # same database, same secret file
    try:
        with TestClient(other) as replica:
            replica.cookies.set(SESSION_COOKIE, browser.cookies[SESSION_COOKIE], path="/ui")
            assert replica.get(f"/ui/assessments/{record_id}").status_code == 200
    finally:
        other.state.services.engine.dispose()


def test_sign_out_ends_the_session(app: Litestar, browser: Client) -> None:
    token = sign_in(browser, issue_key(app, Role.REVIEWER))
    out = browser.post("/ui/sign-out", data={"_csrf_token": token}, follow_redirects=False)
    assert (out.status_code, out.headers["location"]) == (303, "/ui/sign-in")
    assert browser.get("/ui/", follow_redirects=False).status_code == 303


PAGES = sorted((method, path) for (method, path), roles in UI_PAGES.items() if roles is not None)


@pytest.mark.parametrize(("method", "path"), PAGES, ids=[f"{m} {p}" for m, p in PAGES])
def test_who_may_open_each_page(app: Litestar, client: Client, record_id: str, method: str, path: str) -> None:
    """Signed in with each role: the page, or 403; without a session, or revoked: back to sign-in."""
    admitted = UI_PAGES[(method, path)]
    assert admitted is not None
    concrete = path.format(record_id=record_id)
    store = ClientStore(app.state.services.db)
    seen: dict[str, int | str] = {}
    expected: dict[str, int | str] = {}
    for who in [*(role.value for role in Role), "no session", "revoked"]:
        person = TestClient(app)
        token = csrf(person)
        if who != "no session":
            role = Role(who) if who != "revoked" else sorted(admitted)[0]
            sign_in(person, issue_key(app, role, who))
            if who == "revoked":
                store.revoke(store.find(who)[0].id)
        data = {"_csrf_token": token, "verdict": "accept"} if method == "POST" else None
        response = person.request(method, concrete, data=data, follow_redirects=False)
        location = response.headers.get("location", "")
        # An assessor that signed in here did not create the record: 404, as for the API (admitted, not found).
        seen[who] = ("sign-in" if location.startswith("/ui/sign-in") else
                     "admitted" if response.status_code in (200, 303, 404) else response.status_code)
        expected[who] = ("sign-in" if who in ("no session", "revoked") else
                         "admitted" if Role(who) in admitted else 403)
    assert seen == expected


def test_the_list_filters_by_status(app: Litestar, browser: Client, client: Client,
                                    client_as: Callable[..., Client]) -> None:
    accepted, proposed = (str(client.post("/assess", json=profile_dict()).json()["id"]) for _ in range(2))
    client_as(Role.REVIEWER).post(f"/assessments/{accepted}/reviews", json={"verdict": "accept"})
    sign_in(browser, issue_key(app, Role.AUDITOR))
    page = browser.get("/ui/", params={"status": "accepted"}).text
    assert accepted in page
    assert proposed not in page
    assert msgspec.json.decode(client.get(f"/assessments/{proposed}").content)["status"] == "proposed"
    assert CSRF_COOKIE in browser.cookies
