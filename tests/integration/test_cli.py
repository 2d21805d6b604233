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
