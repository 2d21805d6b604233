"""The chain writer in a process of its own.

A writer thread shares the server's GIL with the event loop. After every call that released
the GIL (each signature, hash and SQLite step) it waits to take it back, up to a switch
interval while the loop is busy, so under load it spent two thirds of each batch waiting (12.6 ms
of wall time for 3.9 ms of CPU, measured). In its own process the same code (``ChainWriter.append_sync``
through ``commit_batch``: one transaction per batch, the chain lock, group commit, one-by-one
retries) runs without that contention, on another core.

The server sends each draft as a frame on a socket pair and waits for its outcome; the writer
takes every frame that has arrived as one batch. If the writer process dies, the requests in
flight get ``CommitUnknown`` (their batch may have committed: an Idempotency-Key retry tells)
and a new writer process is started.

Run as ``python -m advisor.store.writer_process --fd N`` only by :class:`WriterProcess`.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import itertools
import logging
import socket
import subprocess
import time
from typing import Any, cast

import msgspec

from advisor.audit.jws import detach
from advisor.audit.record import Columns, Envelope
from advisor.framing import frame, read_frame, restart_later, spawn_helper, split_frames, stop_helpers
from advisor.settings import Settings, helper_processes, usable_cores
from advisor.store.writer import (
    Appended,
    ChainWriter,
    CommitUnknown,
    Completion,
    Draft,
    DraftRejected,
    RecordRefused,
    ReviewColumns,
    StoreUnavailable,
    commit_batch,
)

log = logging.getLogger(__name__)

_OK, _UNAVAILABLE, _COMMIT_UNKNOWN, _REJECTED, _COMMITTED = 0, 1, 2, 3, 4
_NO_REQUEST = -1  # a _COMMITTED frame answers no request: it reports a batch (size, seconds) for the metrics


class _Wire(msgspec.Struct, array_like=True, frozen=True):
    """A draft as sent to the writer process."""

    request: int
    id: str
    requester: str
    recommendation_raw: bytes
    columns: Columns | None
    completion: Completion | None
    request_id: str | None = None
    review: ReviewColumns | None = None


class _Stored(msgspec.Struct, array_like=True, frozen=True):
    """What the server needs of an appended record to answer for it."""

    seq: int
    prev_hash: str
    created_at: str
    key_id: str
    hash: str
    compact_jws: str


_encoder = msgspec.msgpack.Encoder()
_reply_decoder = msgspec.msgpack.Decoder(tuple[int, int, Any])


class _Child(asyncio.Protocol):
    def __init__(self, owner: WriterProcess, process: subprocess.Popen[bytes]) -> None:
        self.owner = owner
        self.process = process
        self.started = time.monotonic()
        self.transport: asyncio.Transport | None = None
        self.pending: dict[int, tuple[asyncio.Future[Appended], Draft]] = {}
        self._buffer = bytearray()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports are not its subclasses
        self.transport.write(frame(self.owner.settings.to_json()))

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        for message in split_frames(self._buffer):
            request, kind, body = _reply_decoder.decode(message)
            if kind == _COMMITTED:  # counted here, in the server process, where /metrics is served
                from advisor.metrics import observe_commit

                observe_commit(int(body[0]), float(body[1]))
                continue
            waiting = self.pending.pop(request, None)
            if waiting is None or waiting[0].done():
                continue
            future, draft = waiting
            if kind == _OK:
                stored = msgspec.convert(body, _Stored)
                envelope = Envelope(log=self.owner.settings.log_name, seq=stored.seq, prev_hash=stored.prev_hash,
                                    id=draft.id, created_at=stored.created_at, requester=draft.requester,
                                    key_id=stored.key_id)
                future.set_result(Appended(envelope=envelope,
                                           recommendation_raw=draft.recommendation_raw, hash=stored.hash,
                                           jws=detach(stored.compact_jws), compact_jws=stored.compact_jws))
            else:
                future.set_exception(_error(kind, body))

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        for future, _ in self.pending.values():
            if not future.done():
                future.set_exception(CommitUnknown("the writer process stopped while this record was being "
                                                   "appended: it may or may not be stored"))
        self.pending.clear()
        self.owner.lost(self)


def _error(kind: int, body: Any) -> Exception:
    name, message = body
    if kind == _COMMIT_UNKNOWN:
        return CommitUnknown(message)
    if kind == _REJECTED:
        from advisor.store.idempotency import LeaseLost

        rejections = {"LeaseLost": LeaseLost, "RecordRefused": RecordRefused}
        return rejections.get(name, DraftRejected)(message)
    return StoreUnavailable(message)


def wants_writer_process(settings: Settings) -> bool:
    if settings.writer_process is not None:
        return settings.writer_process
    return helper_processes(usable_cores())[1]


class WriterProcess:
    """The server's side: ``append`` as ``ChainWriter.append``, served by a child process."""

    child_module = "advisor.store.writer_process"  # what the child runs (``python -m``); benchmarks swap it

    def __init__(self, settings: Settings, sqlite: bool) -> None:
        self.settings = settings
        self.sqlite = sqlite
        self.child: _Child | None = None
        self.restarts = 0
        self._ids = itertools.count()
        self._stopping = False

    async def start_serving(self) -> None:
        self._stopping = False
        await self._spawn()

    async def _spawn(self) -> None:
        self.child = await spawn_helper(self.child_module, [], lambda process: _Child(self, process))

    def lost(self, child: _Child) -> None:
        if self.child is child:
            self.child = None
        if self._stopping:  # stop_helpers waits for it (and kills it only after its timeout)
            return
        self.restarts += 1
        from advisor.metrics import HELPER_RESTARTS

        HELPER_RESTARTS.labels(helper="writer").inc()
        restart_later("writer", child.process, child.started, self._respawn)

    async def _respawn(self) -> None:
        if not self._stopping and self.child is None:
            await self._spawn()

    async def append(self, draft: Draft) -> Appended:
        child = self.child
        if child is None or child.transport is None:
            raise StoreUnavailable("the writer process is not running")
        if draft.also_write is not None:  # pragma: no cover - a programming error, caught in tests
            raise TypeError("a writer process takes data (Draft.completion), not callbacks (Draft.also_write)")
        request = next(self._ids)
        future: asyncio.Future[Appended] = asyncio.get_running_loop().create_future()
        child.pending[request] = (future, draft)
        child.transport.write(frame(_encoder.encode(_Wire(
            request=request, id=draft.id, requester=draft.requester, recommendation_raw=draft.recommendation_raw,
            columns=draft.columns, completion=draft.completion, request_id=draft.request_id, review=draft.review))))
        # Not cancelled with its request: once sent, the record is appended whether or not anyone waits.
        return await asyncio.shield(future)

    async def stop_serving(self) -> None:
        self._stopping = True
        child, self.child = self.child, None
        if child is not None:  # the writer finishes its batch, reads end-of-file and exits
            await stop_helpers([(child.transport, child.process)], timeout=30)


# --- the child process -----------------------------------------------------------------------------------


def _reply(wire: _Wire, outcome: Appended | StoreUnavailable | DraftRejected) -> tuple[int, int, Any]:
    if isinstance(outcome, Appended):
        e = outcome.envelope
        return (wire.request, _OK, _Stored(seq=e.seq, prev_hash=e.prev_hash, created_at=e.created_at,
                                           key_id=e.key_id, hash=outcome.hash, compact_jws=outcome.compact_jws))
    kind = _COMMIT_UNKNOWN if isinstance(outcome, CommitUnknown) else \
        _REJECTED if isinstance(outcome, DraftRejected) else _UNAVAILABLE
    return (wire.request, kind, (type(outcome).__name__, str(outcome)))


def serve(sock: socket.socket, writer: ChainWriter) -> None:
    """Append every batch of drafts that has arrived, in one transaction each, until end-of-file."""
    wires = msgspec.msgpack.Decoder(_Wire)
    committed: list[tuple[int, float]] = []
    writer.on_commit = lambda size, seconds: committed.append((size, seconds))
    buffer = bytearray()
    waiting: collections.deque[bytes] = collections.deque()
    open_ = True
    while open_ or waiting:
        if not waiting:
            data = sock.recv(1 << 20)
            if not data:
                return
            buffer += data
        with contextlib.suppress(BlockingIOError):  # take what else has arrived: a bigger batch
            sock.setblocking(False)
            while data := sock.recv(1 << 20):
                buffer += data
            open_ = False  # recv returned b"": the server closed its end
        sock.setblocking(True)
        waiting.extend(split_frames(buffer))
        batch = [wires.decode(waiting.popleft()) for _ in range(min(len(waiting), writer.max_batch))]
        if not batch:
            continue
        drafts = [Draft(id=w.id, requester=w.requester, recommendation_raw=w.recommendation_raw, columns=w.columns,
                        completion=w.completion, request_id=w.request_id, review=w.review) for w in batch]
        outcomes = commit_batch(writer.append_sync, drafts)
        stats = [frame(_encoder.encode((_NO_REQUEST, _COMMITTED, report))) for report in committed]
        committed.clear()
        sock.sendall(b"".join([*stats, *(frame(_encoder.encode(_reply(w, o)))
                                        for w, o in zip(batch, outcomes, strict=True))]))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="The chain writer process of the advisor's server (started by it).")
    parser.add_argument("--fd", type=int, required=True)
    args = parser.parse_args(argv)
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group; the server stops us
    from advisor.jsonlog import configure_helper

    configure_helper("writer")  # JSON lines, each with its draft's request id where there is one
    from advisor.audit.keyring import KeyRing
    from advisor.store.database import is_sqlite, make_engine, normalise_url

    with socket.socket(fileno=args.fd) as sock, contextlib.suppress(BrokenPipeError, ConnectionResetError):
        first = read_frame(sock)
        if first is None:
            return
        settings = Settings.from_json(first)
        engine = make_engine(settings)
        sqlite = is_sqlite(normalise_url(settings.database_url))
        writer = ChainWriter(engine, KeyRing(settings.keys_dir, settings.signing_key_file), settings.log_name,
                             settings.max_batch, sqlite)
        try:
            serve(sock, writer)
        finally:
            engine.dispose()


if __name__ == "__main__":
    main()
