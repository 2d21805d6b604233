"""The CLI as a new user meets it: no database created by a command that reads one, client names checked as
the API checks them, no traceback on a closed pipe or on a corrupt database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from litestar import Litestar

from advisor.auth.clients import ClientStore
from advisor.services import Services
from advisor.settings import PROJECT_ROOT, Settings
from tests.signed_log import append_records

EXAMPLE = PROJECT_ROOT / "examples" / "validation-startup.json"
SQLITE = pytest.mark.parametrize("settings", ["sqlite"], indirect=True)


def advisor(*args: str, cwd: Path, env: dict[str, str] | None = None, **kwargs: object
            ) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ADVISOR_")}
    return subprocess.run([sys.executable, "-m", "advisor", *args], capture_output=True, text=True, check=False,
                          timeout=120, cwd=cwd, env={**clean, "PYTHONPATH": str(PROJECT_ROOT), **(env or {})})


@pytest.mark.parametrize("command", [["verify"], ["export", "out.jsonl"], ["checkpoint", "cp.json"],
                                     ["clients", "list"], ["clients", "revoke", "x"], ["keys", "rotate"],
                                     ["clients", "create", "portal", "--role", "assessor"]])
def test_a_command_that_reads_the_database_never_creates_one(tmp_path: Path, command: list[str]) -> None:
    result = advisor(*command, cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"no database at {tmp_path / 'var' / 'advisor.db'}" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "var").exists(), "the command created a database (or its directory)"


def env_of(settings: Settings) -> dict[str, str]:
    return {"ADVISOR_DATABASE_URL": settings.database_url, "ADVISOR_KEYS_DIR": str(settings.keys_dir)}


@SQLITE
@pytest.mark.parametrize("name", ["bad/name", "", "x\n", " lead", "a\x7fb"])
def test_clients_create_checks_the_name_as_the_api_does(app: Litestar, settings: Settings, tmp_path: Path,
                                                        name: str) -> None:
    result = advisor("clients", "create", name, "--role", "assessor", cwd=tmp_path, env=env_of(settings))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "invalid client name" in result.stderr
    assert ClientStore(app.state.services.db).all() == []


def test_assess_into_a_closed_pipe_is_quiet(tmp_path: Path) -> None:
    read, write = os.pipe()
    os.close(read)  # the reader is gone before the first byte: every write is EPIPE
    try:
        result = subprocess.run([sys.executable, "-m", "advisor", "assess", str(EXAMPLE), "--json"], stdout=write,
                                stderr=subprocess.PIPE, text=True, check=False, timeout=120, cwd=PROJECT_ROOT)
    finally:
        os.close(write)
    assert "Traceback" not in result.stderr, result.stderr
    assert "BrokenPipeError" not in result.stderr
    assert result.returncode == 141


@SQLITE
@pytest.mark.parametrize("damage", ["garbage", "pages"])
def test_verify_on_a_corrupt_database_exits_2_with_a_clear_message(app: Litestar, settings: Settings,
                                                                    tmp_path: Path, damage: str) -> None:
    services: Services = app.state.services
    append_records(services, 40)
    services.engine.dispose()
    database = Path(settings.database_url.removeprefix("sqlite:///"))
    data = bytearray(database.read_bytes())
    if damage == "garbage":
        data[:] = b"this is not a database" * 200
    else:  # the header stays; pages in the middle are overwritten
        middle = len(data) // 2
        data[middle:middle + 16384] = b"\xa5" * 16384
    database.write_bytes(bytes(data))
    result = advisor("verify", "--quiet", "--workers", "2", cwd=tmp_path, env=env_of(settings))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "cannot verify" in result.stderr
    assert "Traceback" not in result.stderr
