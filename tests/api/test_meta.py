"""Health, readiness, the rules, the catalogs and the public keys."""

from __future__ import annotations

from litestar import Litestar
from litestar.testing import TestClient
from sqlalchemy import text


def test_health(client: TestClient[Litestar]) -> None:
    assert client.get("/health").json() == {"status": "ok"}


def test_ready_when_schema_is_at_head(client: TestClient[Litestar]) -> None:
    body = client.get("/ready").json()
    assert body["status"] == "ready"
    assert body["schema_revision"] == body["schema_head"]


def test_not_ready_when_schema_is_behind(client: TestClient[Litestar], app: Litestar) -> None:
    with app.state.services.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'old'"))
    response = client.get("/ready")
    assert response.status_code == 503
    assert response.json()["schema_revision"] == "old"


def test_rules_are_served_with_their_sources(client: TestClient[Litestar]) -> None:
    body = client.get("/rules").json()
    assert body["digest"].startswith("sha256:")
    air = next(r for r in body["rules"] if r["id"] == "OVR-AIR-GAPPED")
    assert air["effect"] == "exclude"
    assert air["quote"]
    assert air["when"] == {"air_gapped": True}
    assert body["fact_fields"]["daily_tokens"] == "int"


def test_catalogs_list_and_detail(client: TestClient[Litestar]) -> None:
    listing = {c["id"]: c for c in client.get("/catalogs").json()}
    assert listing["sourced-2026-12"]["default"]
    assert listing["article-2026-05"]["preset"]
    detail = client.get("/catalogs/sourced-2026-12").json()
    assert all(m["source"] and m["as_of"] for m in detail["catalog"]["managed_offerings"])
    assert client.get("/catalogs/nope").status_code == 404


def test_jwks_lists_the_signing_key(client: TestClient[Litestar]) -> None:
    keys = client.get("/.well-known/jwks.json").json()["keys"]
    assert len(keys) == 1
    assert keys[0]["kty"] == "OKP"
    assert keys[0]["crv"] == "Ed25519"
    assert "d" not in keys[0]  # never the private part


def test_regions_list_countries_inside_blocs(client: TestClient[Litestar]) -> None:
    regions = {r["code"]: r for r in client.get("/regions").json()["regions"]}
    assert regions["de"]["parent"] == "eu"
    assert regions["eu"]["kind"] == "bloc"
    assert regions["uk"].get("parent") is None
