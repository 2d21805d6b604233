"""The advisor command: offline assessment, migrations."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from advisor.settings import PROJECT_ROOT

EXAMPLE = PROJECT_ROOT / "examples" / "validation-startup.json"


def advisor(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "advisor", *args], capture_output=True, text=True, env=env,
                          check=False, timeout=120)


def test_assess_prints_a_table_offline() -> None:
    result = advisor("assess", str(EXAMPLE))
    assert result.returncode == 0, result.stderr
    assert "Decision: managed (mandatory)" in result.stdout  # no staff, no budget: OVR-NO-STAFF
    assert "OVR-NO-STAFF" in result.stdout
    assert "Findings:" in result.stdout
    assert "CHK-VALIDATION" in result.stdout


def test_assess_json_is_the_api_recommendation() -> None:
    result = advisor("assess", str(EXAMPLE), "--json")
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert body["decision"] == "managed"
    assert set(body["options"]) == {"managed", "self_hosted", "hybrid"}


def test_assess_reports_a_bad_profile(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"organization": {"name": "A"}, "workload": {"daily_tokens": -5},
                               "team": {"ml_infra_engineers": 0}}))
    result = advisor("assess", str(bad))
    assert result.returncode == 2
    assert "workload.daily_tokens" in result.stderr


def test_migrate_creates_the_database(tmp_path: Path) -> None:
    import os

    env = {**os.environ, "ADVISOR_DATABASE_URL": f"sqlite:///{tmp_path}/cli.db"}
    result = advisor("migrate", env=env)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "cli.db").exists()


def test_adr_writes_the_decision_record_the_api_serves(tmp_path: Path) -> None:
    import os

    from litestar.testing import TestClient

    from advisor.auth.clients import Role
    from advisor.settings import Settings
    from tests.conftest import authorised, issue_key, running_app
    from tests.factories import profile_dict

    settings = Settings(database_url=f"sqlite:///{tmp_path}/adr.db", keys_dir=tmp_path / "keys", evaluators=0,
                        writer_process=False)
    with running_app(settings) as app, TestClient(app) as portal:
        authorised(portal, issue_key(app, Role.ASSESSOR))
        record_id = portal.post("/assess", json=profile_dict()).json()["id"]
        reviewer = authorised(TestClient(app), issue_key(app, Role.REVIEWER))
        assert reviewer.post(f"/assessments/{record_id}/reviews", json={"verdict": "accept"}).status_code == 201
        served = portal.get(f"/assessments/{record_id}/adr").text
    env = {**os.environ, "ADVISOR_DATABASE_URL": settings.database_url, "ADVISOR_KEYS_DIR": str(tmp_path / "keys")}
    output = tmp_path / "decision.md"
    result = advisor("adr", record_id, "--output", str(output), env=env)
    assert result.returncode == 0, result.stderr
    assert output.read_text(encoding="utf-8") == served
    assert served.startswith("---\nstatus: accepted\n")
    missing = advisor("adr", "00000000-0000-4000-8000-000000000000", env=env)
    assert (missing.returncode, missing.stderr.strip()) == (1, "no assessment 00000000-0000-4000-8000-000000000000")
