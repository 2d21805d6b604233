"""Kept versions, ``GET /rules?digest=``, ``GET /catalogs/{id}?digest=`` and ``POST /assessments/{id}/reassess``.

The server is restarted on the same database with a real rule change or a real price change
(tests/replay_fixtures.py): a second app, as a deployment of the changed files would be.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import pytest
from litestar import Litestar
from litestar.testing import TestClient
from sqlalchemy import delete, func, select

from advisor.auth.clients import Role
from advisor.settings import Settings
from advisor.store.tables import records, rulebook_versions
from advisor.store.verification import verify_database
from tests.conftest import authorised, issue_key, running_app
from tests.factories import profile_dict
from tests.replay_fixtures import MID_STEADY, MID_VALIDATION, SMALL_STEADY, changed_catalogs, changed_rules

Client = TestClient[Litestar]
sqlite_only = pytest.mark.parametrize("settings", ["sqlite"], indirect=True)


@contextmanager
def redeployed(settings: Settings, role: Role = Role.REVIEWER, **changes: Any) -> Iterator[Client]:
    """The service started again on the same database with changed settings (rules or catalogs), as ``role``."""
    with running_app(msgspec.structs.replace(settings, **changes)) as app, TestClient(app) as test_client:
        yield authorised(test_client, issue_key(app, role))


def stored_count(app: Litestar) -> int:
    with app.state.services.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(records)).scalar_one())


def option(drift: dict[str, Any], name: str) -> dict[str, Any]:
    return next(o for o in drift["options"] if o["option"] == name)


def test_versions_are_served_by_digest_and_an_unknown_one_is_404(client: Client) -> None:
    rules = client.get("/rules").json()
    assert client.get("/rules", params={"digest": rules["digest"]}).json() == rules
    unknown = client.get("/rules", params={"digest": "sha256:" + "0" * 64})
    assert unknown.status_code == 404
    assert unknown.headers["content-type"] == "application/problem+json"
    assert "no kept rulebook" in unknown.json()["detail"]
    assert client.get("/rules", params={"digest": "md5:abc"}).status_code == 400
    catalog = client.get("/catalogs/sourced-2026-12").json()
    kept = client.get("/catalogs/sourced-2026-12", params={"digest": catalog["digest"]})
    assert kept.json() == catalog
    other = client.get("/catalogs/article-2026-05").json()["digest"]  # a real digest, of another catalog
    assert client.get("/catalogs/sourced-2026-12", params={"digest": other}).status_code == 404
    assert client.get("/catalogs/sourced-2026-12", params={"digest": "sha256:" + "1" * 64}).status_code == 404


def test_a_past_version_is_served_after_the_files_changed(settings: Settings, client: Client,
                                                          tmp_path: Path) -> None:
    old_rules = client.get("/rules").json()
    old_catalog = client.get("/catalogs/sourced-2026-12").json()
    with redeployed(settings, rules_dir=changed_rules(tmp_path), catalogs_dir=changed_catalogs(tmp_path)) as new:
        today = new.get("/rules").json()
        assert today["digest"] != old_rules["digest"]
        assert new.get("/rules", params={"digest": old_rules["digest"]}).json() == old_rules
        assert new.get("/rules", params={"digest": today["digest"]}).json() == today
        assert new.get("/catalogs/sourced-2026-12").json()["digest"] != old_catalog["digest"]
        past = new.get("/catalogs/sourced-2026-12", params={"digest": old_catalog["digest"]})
        assert past.json() == old_catalog


@sqlite_only
def test_a_rule_change_is_a_rule_effect_and_the_dry_run_stores_nothing(settings: Settings, app: Litestar,
                                                                        client: Client, tmp_path: Path) -> None:
    record = client.post("/assess", json=profile_dict(**MID_VALIDATION)).json()
    assert record["decision"] == "managed"
    with redeployed(settings, rules_dir=changed_rules(tmp_path)) as reviewer:
        before = stored_count(app)
        response = reviewer.post(f"/assessments/{record['id']}/reassess", params={"dry_run": "true"})
        assert response.status_code == 200, response.text
        assert stored_count(app) == before
    body = response.json()
    drift = body["drift"]
    assert body["recommendation"]["supersedes"] == record["id"]
    assert (drift["decision_before"], drift["decision_after"], drift["flipped"]) == ("managed", "self_hosted", True)
    assert drift["flip_cause"] == "rules"
    assert drift["decision_old_rules_new_catalog"] == "managed"
    assert drift["rules_stopped_firing"] == ["CHK-VALIDATION"]
    assert drift["split"] == "known"
    for name in ("managed", "self_hosted", "hybrid"):
        moved = option(drift, name)
        assert Decimal(moved["price_effect"]) == 0  # the catalog did not change
        assert Decimal(moved["rule_effect"]) == Decimal(moved["change"])


@sqlite_only
def test_a_price_change_is_a_price_effect_and_the_stored_reassessment_links_back(
        settings: Settings, app: Litestar, client: Client, tmp_path: Path) -> None:
    record = client.post("/assess", json=profile_dict(**MID_STEADY)).json()
    assert record["decision"] == "managed"
    with redeployed(settings, catalogs_dir=changed_catalogs(tmp_path)) as reviewer:
        response = reviewer.post(f"/assessments/{record['id']}/reassess")
        assert response.status_code == 201, response.text
        new = response.json()["assessment"]
        assert response.headers["location"] == f"/assessments/{new['id']}"
        assert reviewer.get(response.headers["location"]).json()["supersedes"] == record["id"]
    drift = response.json()["drift"]
    assert (drift["decision_before"], drift["decision_after"], drift["flip_cause"]) == ("managed", "self_hosted",
                                                                                        "prices")
    assert drift["rules_newly_firing"] == drift["rules_stopped_firing"] == []
    managed = option(drift, "managed")
    assert Decimal(managed["change"]) > 0
    assert Decimal(managed["price_effect"]) == Decimal(managed["change"])
    assert Decimal(managed["rule_effect"]) == 0
    assert new["supersedes"] == record["id"]
    assert new["decision"] == "self_hosted"
    assert new["versions"]["catalog_digest"] != record["versions"]["catalog_digest"]
    result = verify_database(app.state.services.engine, settings.log_name)
    assert result.problem is None, result.problem
    assert result.records == 2
    env = {"ADVISOR_DATABASE_URL": settings.database_url, "ADVISOR_KEYS_DIR": str(settings.keys_dir),
           "PATH": "/usr/bin:/bin"}
    verified = subprocess.run([sys.executable, "-m", "advisor", "verify"], capture_output=True, text=True, env=env,
                              check=False, timeout=180)
    assert verified.returncode == 0, verified.stderr


@sqlite_only
def test_without_the_old_rules_the_split_is_unknown_not_invented(settings: Settings, app: Litestar, client: Client,
                                                                  tmp_path: Path) -> None:
    record = client.post("/assess", json=profile_dict(**MID_VALIDATION)).json()
    with app.state.services.engine.begin() as conn:  # as for a record written before revision 0005
        conn.execute(delete(rulebook_versions))
    with redeployed(settings, rules_dir=changed_rules(tmp_path)) as reviewer:
        drift = reviewer.post(f"/assessments/{record['id']}/reassess", params={"dry_run": "true"}).json()["drift"]
    assert drift["flipped"] is True
    assert (drift["split"], drift["flip_cause"], drift["decision_old_rules_new_catalog"]) == ("unknown", None, None)
    assert "not kept" in drift["split_basis"]
    managed = option(drift, "managed")
    assert managed["price_effect"] is None
    assert managed["rule_effect"] is None
    assert managed["change"] is not None


def test_nothing_changed_means_no_drift(client: Client, client_as: Any) -> None:
    record = client.post("/assess", json=profile_dict(**SMALL_STEADY)).json()
    drift = client_as(Role.AUDITOR).post(f"/assessments/{record['id']}/reassess?dry_run=true").json()["drift"]
    assert drift["flipped"] is False
    assert all(Decimal(o["change"]) == 0 for o in drift["options"] if o["change"] is not None)
    assert drift["rules_newly_firing"] == drift["rules_stopped_firing"] == []


@sqlite_only
def test_who_may_reassess_what(client: Client, client_as: Any) -> None:
    record = client.post("/assess", json=profile_dict()).json()["id"]
    path = f"/assessments/{record}/reassess?dry_run=true"
    assert client.post(path).status_code == 200  # the assessor that owns it
    assert client_as(Role.REVIEWER).post(path).status_code == 200
    assert client_as(Role.AUDITOR).post(path).status_code == 200
    assert client_as(Role.ASSESSOR, "another-portal").post(path).status_code == 404  # as GET: not its record
    assert client_as(Role.ADMIN).post(path).status_code == 403
    missing = client.post("/assessments/00000000-0000-0000-0000-000000000000/reassess")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"


@sqlite_only
def test_idempotency_key_replays_the_reassessment(app: Litestar, client: Client) -> None:
    first_id = client.post("/assess", json=profile_dict()).json()["id"]
    other_id = client.post("/assess", json=profile_dict(organization={"name": "Other"})).json()["id"]
    headers = {"Idempotency-Key": "reassess-1"}
    first = client.post(f"/assessments/{first_id}/reassess", headers=headers)
    count = stored_count(app)
    again = client.post(f"/assessments/{first_id}/reassess", headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["location"] == first.headers["location"]
    assert again.json() == first.json()
    assert stored_count(app) == count
    reused = client.post(f"/assessments/{other_id}/reassess", headers=headers)
    assert reused.status_code == 422
    assert stored_count(app) == count
