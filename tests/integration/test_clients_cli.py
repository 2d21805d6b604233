"""`advisor clients create|list|revoke`, and the first start's admin credential (`advisor serve` on a fresh machine)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from advisor.auth.bootstrap import ensure_bootstrap_admin
from advisor.auth.clients import ClientStore
from advisor.settings import PROJECT_ROOT, Settings
from advisor.store.database import Database, migrate
from tests.network import free_port


def advisor(*args: str, env: dict[str, str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "advisor", *args], capture_output=True, text=True, env=env,
                          cwd=cwd, check=False, timeout=120)


def fresh_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ADVISOR_")}
    env.update({"ADVISOR_DATABASE_URL": f"sqlite:///{tmp_path}/cli.db", "ADVISOR_KEYS_DIR": str(tmp_path / "keys"),
                "PYTHONPATH": str(PROJECT_ROOT)})
    return env


def test_create_list_revoke(tmp_path: Path) -> None:
    env = fresh_env(tmp_path)
    assert advisor("migrate", env=env).returncode == 0
    created = advisor("clients", "create", "hr-portal", "--role", "assessor", env=env)
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip()
    assert key.startswith("adv_cl-")
    assert key not in created.stderr
    listed = advisor("clients", "list", "--json", env=env)
    [entry] = json.loads(listed.stdout)
    assert (entry["name"], entry["role"], entry["revoked_at"]) == ("hr-portal", "assessor", None)
    assert key not in listed.stdout
    store = ClientStore(Database.open(Settings(database_url=env["ADVISOR_DATABASE_URL"])))
    try:
        assert store.authenticate(key) is not None
        revoked = advisor("clients", "revoke", "hr-portal", env=env)
        assert revoked.returncode == 0, revoked.stderr
        assert store.authenticate(key) is None
    finally:
        store.db.dispose()
    assert advisor("clients", "revoke", "hr-portal", env=env).returncode == 1  # no active client of that name
    assert advisor("clients", "create", "x", "--role", "root", env=env).returncode == 2


def test_bootstrap_creates_one_admin_and_a_0600_file(settings: Settings, tmp_path: Path) -> None:
    migrate(settings)
    db = Database.open(settings)
    credential = tmp_path / "var" / "admin-credential"
    try:
        assert ensure_bootstrap_admin(db, credential) == credential
        assert stat.S_IMODE(credential.stat().st_mode) == 0o600
        key = credential.read_text().strip()
        principal = ClientStore(db).authenticate(key)
        assert principal is not None
        assert {r.value for r in principal.roles} == {"admin"}
        assert ensure_bootstrap_admin(db, credential) is None  # a client exists: never again
        assert credential.read_text().strip() == key
    finally:
        db.dispose()


def test_no_admin_is_created_whose_key_could_not_be_written(settings: Settings, tmp_path: Path) -> None:
    """The key file is written inside the admin's transaction: when writing it fails, the admin rolls back."""
    migrate(settings)
    db = Database.open(settings)
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("")
    try:
        with pytest.raises(FileExistsError):  # its directory is a file
            ensure_bootstrap_admin(db, blocked / "admin-credential")
        assert ClientStore(db).all() == []
        credential = tmp_path / "var" / "admin-credential"
        assert ensure_bootstrap_admin(db, credential) == credential  # the next start creates it
        assert [c.name for c in ClientStore(db).all()] == ["bootstrap-admin"]
    finally:
        db.dispose()


def get(url: str, key: str | None = None) -> int:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"} if key else {})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - loopback
            status: int = response.status
            return status
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.mark.slow
def test_serve_on_a_fresh_machine_hands_the_operator_an_admin_key_safely(tmp_path: Path) -> None:
    """`advisor serve` in an empty directory: it starts closed, writes the admin key to var/admin-credential
    (0600) and logs only the path, as JSON lines."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ADVISOR_")} | {"PYTHONPATH": str(PROJECT_ROOT)}
    port = free_port()
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen([sys.executable, "-m", "advisor", "serve", "--port", str(port)], cwd=tmp_path,
                                  env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                if get(url + "/health") == 200:
                    break
            except OSError:
                time.sleep(0.1)
        credential = tmp_path / "var" / "admin-credential"
        assert stat.S_IMODE(credential.stat().st_mode) == 0o600
        key = credential.read_text().strip()
        assert get(url + "/clients") == 401  # nothing runs open
        assert get(url + "/clients", key) == 200
    finally:
        server.terminate()
        server.wait(timeout=30)
    output = log_path.read_text()
    assert key not in output
    assert key.split("_", 2)[2] not in output
    entries = [json.loads(line) for line in output.splitlines() if line.strip()]
    assert any(str(credential.resolve()) in entry["message"] for entry in entries)
