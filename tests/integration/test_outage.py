"""With the database gone: 503s with Retry-After (never 500), nothing stored; then recovery by itself."""

from __future__ import annotations

from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import TestClient
from psycopg import sql
from sqlalchemy.engine import make_url

from advisor.app import create_app, ensure_signing_key
from advisor.auth.clients import Role
from advisor.settings import Settings
from advisor.store.database import migrate
from tests.conftest import admin_execute, issue_key
from tests.factories import profile_dict
from tests.integration.chain import check_chain
from tests.network import free_port

PROBLEM = "application/problem+json"


def assert_unavailable(response: object) -> None:
    from httpx import Response

    assert isinstance(response, Response)
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    assert int(response.headers["retry-after"]) > 0
    assert "Traceback" not in response.text


def test_unreachable_database_answers_503_not_500(tmp_path: Path) -> None:
    """A URL to a closed port: the process lives (health), is not ready, and every database route says 503.

    Authentication is off so the requests reach the handlers (with it on, the key lookup says 503 first).
    """
    app = create_app(Settings(database_url=f"postgresql://postgres@127.0.0.1:{free_port()}/nowhere",
                              keys_dir=tmp_path / "keys", auth_required=False))
    with TestClient(app) as client:
        assert client.get("/health").status_code == 200
        ready = client.get("/ready")
        assert ready.status_code == 503
        assert ready.json()["database"] == "unreachable"
        assert "retry-after" in ready.headers
        assert_unavailable(client.post("/assess", json=profile_dict()))
        assert_unavailable(client.get("/assessments/00000000-0000-0000-0000-000000000000"))
        assert_unavailable(client.get("/.well-known/jwks.json"))
        assert client.get("/rules").status_code == 200  # served from memory, database or not


def set_connections(database: str, allowed: bool) -> None:
    """Close (or reopen) one database to everyone, superusers included, and end its sessions."""
    admin_execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS {}").format(
        sql.Identifier(database), sql.SQL("true" if allowed else "false")))
    if not allowed:
        admin_execute(sql.SQL("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = {}")
                      .format(sql.Literal(database)))


@pytest.mark.postgres
def test_postgres_outage_stores_nothing_and_recovers(postgres_database: str, tmp_path: Path) -> None:
    """The default deployment (authentication on): the database goes away under a running app, then returns."""
    settings = Settings(database_url=postgres_database, keys_dir=tmp_path / "keys")
    database = make_url(postgres_database).database
    assert database is not None
    migrate(settings)
    app: Litestar = create_app(settings)
    ensure_signing_key(app.state.services)
    with TestClient(app) as client:
        client.headers["Authorization"] = f"Bearer {issue_key(app, Role.ASSESSOR)}"
        before = client.post("/assess", json=profile_dict(organization={"name": "Before"}))
        assert before.status_code == 201, before.text
        try:
            set_connections(database, allowed=False)  # and every pooled connection is now dead
            assert client.get("/ready").status_code == 503
            assert_unavailable(client.post("/assess", json=profile_dict(organization={"name": "During"})))
            assert_unavailable(client.get(f"/assessments/{before.json()['id']}"))
            assert_unavailable(client.get("/.well-known/jwks.json"))
            assert_unavailable(client.get("/rules"))  # the key cannot be checked: 503, not 401 or 500
        finally:
            set_connections(database, allowed=True)
        # Nothing restarted: the pool (pre-ping) and the writer thread recover on their own.
        assert client.get("/ready").status_code == 200
        after = client.post("/assess", json=profile_dict(organization={"name": "After"}))
        assert after.status_code == 201, after.text
        assert client.get(f"/assessments/{before.json()['id']}").status_code == 200
    ids = check_chain(app.state.services.engine)
    assert ids == [before.json()["id"], after.json()["id"]], "something was stored during the outage"
    app.state.services.engine.dispose()
