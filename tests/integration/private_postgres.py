"""A PostgreSQL cluster of the test's own: initdb into a temporary directory, started on a free port, stopped
and removed afterwards. Tests that stop or restart PostgreSQL use this, never the machine's server (other
programs and other test runs use it).

As root (PostgreSQL refuses to run as root) the cluster belongs to the ``postgres`` system user and its
commands run through ``runuser``.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.network import free_port

RUN_AS = "postgres"


def bin_dir() -> Path | None:
    """Where initdb and pg_ctl are: on PATH, or Debian's /usr/lib/postgresql/<version>/bin (newest)."""
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[4]))
    return Path(candidates[-1]).parent if candidates else None


def unavailable() -> str | None:
    """Why a private cluster cannot be made here, or None."""
    if bin_dir() is None:
        return "no initdb (PostgreSQL server binaries) on this machine"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(RUN_AS)
        except KeyError:
            return f"running as root and there is no {RUN_AS!r} user to own a private cluster"
    return None


@dataclass
class PrivateCluster:
    directory: Path
    port: int

    @property
    def data(self) -> Path:
        return self.directory / "data"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def run(self, tool: str, *args: str, timeout: float = 120) -> None:
        bindir = bin_dir()
        assert bindir is not None
        command = [str(bindir / tool), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", RUN_AS, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{tool} failed ({done.returncode}): {done.stdout}{done.stderr}{self.log()}")

    def log(self) -> str:
        path = self.directory / "server.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def pg_ctl(self, action: str, *extra: str) -> None:
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1"
        self.run("pg_ctl", action, "-w", "-t", "60", "-D", str(self.data), "-l", str(self.directory / "server.log"),
                 "-o", options, *extra)

    def restart(self) -> None:
        self.pg_ctl("restart", "-m", "fast")

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(self.url(), autocommit=True, connect_timeout=10) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


@contextmanager
def private_cluster() -> Iterator[PrivateCluster]:
    """A running private cluster (trust authentication on 127.0.0.1), removed afterwards whatever happens."""
    directory = Path(tempfile.mkdtemp(prefix="advisor-pg-"))
    if os.geteuid() == 0:
        user = pwd.getpwnam(RUN_AS)
        os.chown(directory, user.pw_uid, user.pw_gid)
    cluster = PrivateCluster(directory, free_port())
    started = False
    try:
        cluster.run("initdb", "-D", str(cluster.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                    "--no-sync", "--no-instructions")
        cluster.pg_ctl("start")
        started = True
        yield cluster
    finally:
        if started:
            with contextlib.suppress(Exception):  # removing the directory below is what matters
                cluster.pg_ctl("stop", "-m", "immediate")
        shutil.rmtree(directory, ignore_errors=True)
