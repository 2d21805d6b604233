"""The SQLite database is private from its creation: its directory 0700, the database, WAL and SHM 0600."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

from sqlalchemy import text

from advisor.settings import Settings
from advisor.store.database import make_engine, migrate
from tests.integration.cluster import server_env


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_database_directory_and_files_are_private(tmp_path: Path) -> None:
    database = tmp_path / "var" / "advisor.db"
    url = f"sqlite:///{database}"
    migrate(Settings(database_url=url, keys_dir=tmp_path / "keys"))
    # A command that writes through the app's writer (WAL and SHM appear), run as an operator would.
    done = subprocess.run([sys.executable, "-m", "advisor", "keys", "rotate"], env=server_env(url, tmp_path / "keys"),
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert mode(database.parent) == 0o700
    assert mode(database) == 0o600
    engine = make_engine(Settings(database_url=url))
    try:
        with engine.connect() as conn:  # while a connection is open, the WAL and SHM files exist
            conn.execute(text("CREATE TABLE scratch (x INTEGER)"))
            conn.commit()
            companions = [database.with_name(database.name + s) for s in ("-wal", "-shm")]
            assert all(f.exists() for f in companions)
            assert [oct(mode(f)) for f in companions] == [oct(0o600)] * 2
    finally:
        engine.dispose()


def test_an_older_world_readable_database_is_tightened(tmp_path: Path) -> None:
    database = tmp_path / "advisor.db"
    database.touch(mode=0o644)
    database.chmod(0o644)
    migrate(Settings(database_url=f"sqlite:///{database}", keys_dir=tmp_path / "keys"))
    assert mode(database) == 0o600
