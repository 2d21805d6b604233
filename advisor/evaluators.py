"""Where the pure core runs: in the server's process, or in a pool of evaluator processes.

Evaluating a profile (rules, pricing, narrative, canonical bytes) is CPU-bound Python: about
half a millisecond that holds the GIL. In the server's own process it competes with HTTP and
with the chain writer's thread, which waits up to a switch interval (5 ms) for the GIL after
every call that released it (each signature, hash and SQLite step); one process then cannot use
a second core at all. An :class:`EvaluatorPool` runs the core in child processes instead, each
with its own interpreter, and keeps one chain writer per server process (several writer
processes on one SQLite file would queue for its lock instead).

The wire between them is a socket pair per child carrying length-prefixed msgpack frames: the
profile as JSON out, the recommendation's canonical bytes (what gets signed) back. The evaluator
is pure, so a child that dies loses nothing but the requests in flight on it (503, retryable);
it is started again.

Run as ``python -m advisor.evaluators --fd N ...`` only by the pool.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import socket
import subprocess
import time
from pathlib import Path
from typing import Any, NamedTuple, Protocol, cast

import msgspec

from advisor.application.evaluate import Advisor, ProfileError
from advisor.audit.record import Columns, recommendation_bytes
from advisor.costs.catalog import load_catalogs
from advisor.domain.profile import Profile
from advisor.domain.recommendation import Recommendation
from advisor.domain.regions import load_region_table
from advisor.framing import frame, read_frame, restart_later, spawn_helper, split_frames, stop_helpers
from advisor.jsonlog import configure_helper, error_fields, request_id_var
from advisor.rules.engine import RuleEngine
from advisor.rules.rulebook import load_rulebook
from advisor.settings import Settings, helper_processes, usable_cores

log = logging.getLogger(__name__)

_OK, _PROFILE_ERROR, _FAILED = 0, 1, 2


def build_advisor(settings: Settings) -> Advisor:
    rulebook = load_rulebook(settings.rules_dir)
    regions = load_region_table((settings.rules_dir / "regions.toml").read_bytes())
    return Advisor(rulebook, RuleEngine(rulebook), load_catalogs(settings.catalogs_dir), settings.default_catalog,
                   regions)


class Evaluated(NamedTuple):
    """A recommendation as the writer needs it: never decoded again on the server's side."""

    raw: bytes  # its canonical bytes (record.recommendation_bytes): what the writer signs
    columns: Columns


def evaluated(recommendation: Recommendation) -> Evaluated:
    return Evaluated(recommendation_bytes(recommendation), Columns.of(recommendation))


class EvaluatorUnavailable(RuntimeError):
    """No evaluator could take the profile (one died with it in flight, or none is running)."""


class Evaluator(Protocol):
    async def evaluate(self, profile: Profile) -> Evaluated: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class InProcessEvaluator:
    """Evaluates on the event loop's thread: no processes (tests, tiny deployments, one core)."""

    def __init__(self, advisor: Advisor) -> None:
        self.advisor = advisor

    async def evaluate(self, profile: Profile) -> Evaluated:
        return evaluated(self.advisor.assess(profile))

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None


_request_encoder = msgspec.msgpack.Encoder()
_reply_decoder = msgspec.msgpack.Decoder(tuple[int, int, Any])
_profile_encoder = msgspec.json.Encoder()
_columns_decoder = msgspec.msgpack.Decoder(Columns)


class _Child(asyncio.Protocol):
    """The server's end of one evaluator process: sends profiles, matches replies to waiting requests."""

    def __init__(self, pool: EvaluatorPool, process: subprocess.Popen[bytes]) -> None:
        self.pool = pool
        self.process = process
        self.started = time.monotonic()
        self.transport: asyncio.Transport | None = None
        self.pending: dict[int, asyncio.Future[Evaluated]] = {}
        self._buffer = bytearray()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports are not its subclasses

    def send(self, request_id: int, profile: Profile, future: asyncio.Future[Evaluated]) -> None:
        assert self.transport is not None
        self.pending[request_id] = future
        self.transport.write(frame(_request_encoder.encode((request_id, _profile_encoder.encode(profile),
                                                            request_id_var.get()))))

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        for reply in split_frames(self._buffer):
            self._reply(reply)

    def _reply(self, message: bytes) -> None:
        request_id, kind, body = _reply_decoder.decode(message)
        future = self.pending.pop(request_id, None)
        if future is None or future.done():  # the request was cancelled (its client went away)
            return
        if kind == _OK:
            raw, columns = body
            future.set_result(Evaluated(raw, msgspec.convert(columns, Columns)))
        elif kind == _PROFILE_ERROR:
            future.set_exception(ProfileError(body[0], body[1], status=body[2]))
        else:
            future.set_exception(RuntimeError(f"evaluator failed: {body}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        error = EvaluatorUnavailable("an evaluator process stopped with this request in flight; retry")
        for future in self.pending.values():
            if not future.done():
                future.set_exception(error)
        self.pending.clear()
        self.pool.lost(self)


class EvaluatorPool:
    """``processes`` evaluator processes; each profile goes to the one with the fewest in flight."""

    def __init__(self, settings: Settings, processes: int) -> None:
        self.settings = settings
        self.processes = processes
        self.children: list[_Child] = []
        self._ids = itertools.count()
        self._stopping = False
        self.restarts = 0

    async def start(self) -> None:
        self._stopping = False
        for _ in range(self.processes):
            await self._spawn()

    async def _spawn(self) -> None:
        arguments = ["--rules-dir", str(self.settings.rules_dir), "--catalogs-dir", str(self.settings.catalogs_dir),
                     "--default-catalog", self.settings.default_catalog]
        self.children.append(await spawn_helper("advisor.evaluators", arguments,
                                                lambda process: _Child(self, process)))

    def lost(self, child: _Child) -> None:
        if child in self.children:
            self.children.remove(child)
        if self._stopping:  # stop_helpers waits for it (and kills it only after its timeout)
            return
        self.restarts += 1
        from advisor.metrics import HELPER_RESTARTS  # not at the top: evaluator processes import this module

        HELPER_RESTARTS.labels(helper="evaluator").inc()
        restart_later("evaluator", child.process, child.started, self._respawn)

    async def _respawn(self) -> None:
        if not self._stopping and len(self.children) < self.processes:
            await self._spawn()

    async def evaluate(self, profile: Profile) -> Evaluated:
        live = [child for child in self.children if child.transport is not None]
        if not live:
            raise EvaluatorUnavailable("no evaluator process is running")
        child = min(live, key=lambda c: len(c.pending))
        future: asyncio.Future[Evaluated] = asyncio.get_running_loop().create_future()
        request_id = next(self._ids)
        child.send(request_id, profile, future)
        try:
            return await future
        finally:
            child.pending.pop(request_id, None)

    async def stop(self) -> None:
        self._stopping = True
        children, self.children = self.children, []
        await stop_helpers([(child.transport, child.process) for child in children], timeout=10)


def make_evaluator(settings: Settings, advisor: Advisor) -> Evaluator:
    processes = settings.evaluators if settings.evaluators is not None else default_evaluators()
    return EvaluatorPool(settings, processes) if processes > 0 else InProcessEvaluator(advisor)


def default_evaluators() -> int:
    """With a single core, evaluating in process is cheaper than passing profiles around."""
    return helper_processes(usable_cores())[0]


# --- the child process -----------------------------------------------------------------------------------


def serve(sock: socket.socket, advisor: Advisor) -> None:
    """Answer frames until the server closes its end."""
    requests = msgspec.msgpack.Decoder(tuple[int, bytes, str | None])
    profiles = msgspec.json.Decoder(Profile)
    replies = msgspec.msgpack.Encoder()
    while True:
        body = read_frame(sock)
        if body is None:
            return
        request_id, profile_json, http_request_id = requests.decode(body)
        request_id_var.set(http_request_id)  # every log line about this profile carries the request's id
        reply: tuple[int, int, Any]
        try:
            raw, columns = evaluated(advisor.assess(profiles.decode(profile_json)))
            reply = (request_id, _OK, (raw, columns))
        except ProfileError as exc:
            reply = (request_id, _PROFILE_ERROR, (exc.field, exc.message, exc.status))
        except Exception as exc:
            log.error("evaluation failed: %s", type(exc).__name__, extra=error_fields(exc))
            reply = (request_id, _FAILED, type(exc).__name__)
        sock.sendall(frame(replies.encode(reply)))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="An evaluator process of the advisor's server (started by it).")
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--rules-dir", type=Path, required=True)
    parser.add_argument("--catalogs-dir", type=Path, required=True)
    parser.add_argument("--default-catalog", required=True)
    args = parser.parse_args(argv)
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group; the server stops us
    configure_helper("evaluator")
    advisor = build_advisor(Settings(rules_dir=args.rules_dir, catalogs_dir=args.catalogs_dir,
                                     default_catalog=args.default_catalog))
    with socket.socket(fileno=args.fd) as sock:
        serve(sock, advisor)


if __name__ == "__main__":
    main()
