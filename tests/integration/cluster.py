"""Real server processes on loopback and a bounded, retrying load against them.

Each server is ``python -m advisor serve`` (one process: migrate, ensure the key, uvicorn), the
way an operator starts a replica. The load sends every profile with its own Idempotency-Key and
retries it (same key, another replica) on connection errors, 503, 409 and 429 until it is
acknowledged or the deadline passes: what a well-behaved portal behind a load balancer does.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.network import free_port

READY_TIMEOUT = 90.0
logging.getLogger("httpx").setLevel(logging.WARNING)  # one INFO line per request would drown a failure


def server_env(database_url: str, keys_dir: Path, **extra: str) -> dict[str, str]:
    """A replica's environment: the shared database and the shared keys; auth off (not under test here).

    A short Idempotency-Key lease: a retry of a request whose replica died waits for it to run out.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("ADVISOR_")}
    env.update({"ADVISOR_DATABASE_URL": database_url, "ADVISOR_KEYS_DIR": str(keys_dir),
                "ADVISOR_AUTH_REQUIRED": "false", "ADVISOR_RATE_LIMIT_PER_MINUTE": "0",
                "ADVISOR_IDEMPOTENCY_LEASE_SECONDS": "5", "ADVISOR_LOG_LEVEL": "WARNING", **extra})
    return env


@dataclass
class Server:
    port: int
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "advisor", "serve", "--host", "127.0.0.1", "--port", str(self.port)],
                env=self.env, cwd=self.log_path.parent, stdout=log, stderr=subprocess.STDOUT)

    def kill_9(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=20)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:] if self.log_path.exists() else ""


def wait_ready(servers: Sequence[Server], timeout: float = READY_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    pending = list(servers)
    with httpx.Client(timeout=2) as client:
        while pending:
            server = pending[0]
            assert server.process is not None
            if server.process.poll() is not None:
                raise AssertionError(f"server on {server.port} exited ({server.process.returncode}):\n{server.log()}")
            try:
                if client.get(server.url + "/ready").status_code == 200:
                    pending.pop(0)
                    continue
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"server on {server.port} not ready in {timeout}s:\n{server.log()}")
            time.sleep(0.05)  # a replica is ready within a second or two: a long poll only adds waiting


@contextmanager
def running(count: int, env: dict[str, str], workdir: Path) -> Iterator[list[Server]]:
    """``count`` replicas started together (so they also race to migrate); always stopped afterwards."""
    servers = [Server(port=free_port(), env=env, log_path=workdir / f"server-{i}.log") for i in range(count)]
    try:
        for server in servers:
            server.start()
        wait_ready(servers)
        yield servers
    finally:
        for server in servers:
            server.stop()


@dataclass
class Outcome:
    """One logical request: its key, every attempt's result, and what it was finally told."""

    key: str
    attempts: list[str] = field(default_factory=list)
    record: dict[str, Any] | None = None


@dataclass
class Load:
    bodies: Sequence[dict[str, Any]]
    urls: Callable[[], Sequence[str]]
    deadline_s: float = 120.0
    threads: int = 12
    acknowledged: int = 0
    outcomes: list[Outcome] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _milestones: list[tuple[int, threading.Event]] = field(default_factory=list)

    def when_acknowledged(self, count: int) -> threading.Event:
        event = threading.Event()
        self._milestones.append((count, event))
        return event

    def _acknowledge(self) -> None:
        with self._lock:
            self.acknowledged += 1
            for count, event in self._milestones:
                if self.acknowledged >= count:
                    event.set()

    def send(self, client: httpx.Client, index: int, body: dict[str, Any], key: str, deadline: float) -> Outcome:
        outcome = Outcome(key=key)
        attempt = 0
        while time.monotonic() < deadline:
            urls = self.urls()
            url = urls[(index + attempt) % len(urls)]
            attempt += 1
            try:
                response = client.post(url + "/assess", json=body, headers={"Idempotency-Key": key})
            except httpx.TransportError as exc:
                outcome.attempts.append(type(exc).__name__)
                time.sleep(0.05)
                continue
            outcome.attempts.append(str(response.status_code))
            if response.status_code in (200, 201):
                outcome.record = response.json()
                self._acknowledge()
                return outcome
            if response.status_code not in (409, 429, 503):
                raise AssertionError(f"unexpected {response.status_code} for key {key}: {response.text[:500]}")
            retry_after = float(response.headers.get("retry-after", "0.2") or 0.2)
            time.sleep(min(retry_after, 0.3))
        return outcome

    def run(self, keys: Sequence[str] | None = None) -> list[Outcome]:
        """Send every body once (retrying until acknowledged); returns the outcomes in body order."""
        keys = keys or [str(uuid.uuid4()) for _ in self.bodies]
        deadline = time.monotonic() + self.deadline_s
        local = threading.local()
        clients: list[httpx.Client] = []

        def one(index: int) -> Outcome:
            client: httpx.Client | None = getattr(local, "client", None)
            if client is None:
                client = local.client = httpx.Client(timeout=httpx.Timeout(15.0, connect=2.0))
                with self._lock:
                    clients.append(client)
            return self.send(client, index, self.bodies[index], keys[index], deadline)

        try:
            with ThreadPoolExecutor(max_workers=self.threads) as pool:
                futures = [pool.submit(one, i) for i in range(len(self.bodies))]
                self.outcomes = [f.result(timeout=self.deadline_s + 60) for f in futures]
        finally:
            for client in clients:
                client.close()
        return self.outcomes


def disrupted(outcomes: Sequence[Outcome]) -> int:
    """Attempts that did not succeed: a crash test that saw none did not crash anything mid-load."""
    return sum(attempt not in ("200", "201") for outcome in outcomes for attempt in outcome.attempts)


def bodies(count: int, prefix: str) -> list[dict[str, Any]]:
    """Distinct valid profiles, so every record differs."""
    stages = ["validation", "growing", "steady"]
    return [{"organization": {"name": f"{prefix} {i:04d}"},
             "workload": {"daily_tokens": 50_000 + 997 * i, "volume_certainty": stages[i % 3]},
             "team": {"ml_infra_engineers": i % 3}} for i in range(count)]
