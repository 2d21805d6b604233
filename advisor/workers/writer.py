"""The chain writer in a process of its own.

A writer thread shares the server's GIL with the event loop. After every call that released
the GIL (each signature, hash and SQLite step) it waits to take it back, up to a switch
interval while the loop is busy, so under load it spent two thirds of each batch waiting (12.6 ms
of wall time for 3.9 ms of CPU, measured). In its own process the same code (``ChainWriter.append_sync``
through ``commit_batch``: one transaction per batch, the chain lock, group commit, one-by-one
retries) runs without that contention, on another core.

The server sends each draft as a call of :mod:`advisor.workers.process` and waits for its
outcome; the writer takes every call that has arrived as one batch. If the writer process dies, the requests in
flight get ``CommitUnknown`` (their batch may have committed: an Idempotency-Key retry tells)
and a new writer process is started.

Run as ``python -m advisor.workers.writer --fd N`` only by :class:`WriterProcess`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Iterator, Sequence

import msgspec

from advisor.audit.checkpoint import Checkpoint
from advisor.audit.record import Columns, Envelope
from advisor.settings import Settings, helper_processes, usable_cores
from advisor.store.database import Database
from advisor.store.errors import CommitUnknown, DraftRejected, LeaseLost, RecordRefused, StoreUnavailable
from advisor.store.keyring import KeyRing
from advisor.store.writer import Appended, BatchAppend, ChainWriter, Completion, Draft, ReviewColumns, commit_batch
from advisor.store.writer import append_batch as signed_append_batch
from advisor.workers.process import ErrorTypes, HelperKind, HelperPool, Notify, helper_main


class _Wire(msgspec.Struct, array_like=True, frozen=True):
    """A draft as sent to the writer process."""

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
    tree_size: int  # the commit's signed checkpoint: size, root and note (signed by ``key_id``)
    root_hash: str
    note: str
    inclusion_path: list[bytes]  # the record's, in that tree


_encoder = msgspec.msgpack.Encoder()
_stored_decoder = msgspec.msgpack.Decoder(_Stored)
_commit_decoder = msgspec.msgpack.Decoder(tuple[int, float])  # a notice: a committed batch (records, seconds)


def _kind(module: str) -> HelperKind:
    return HelperKind(
        name="writer", module=module,
        errors=ErrorTypes(StoreUnavailable, CommitUnknown, DraftRejected, RecordRefused, LeaseLost),
        lost=lambda: CommitUnknown("the writer process stopped while this record was being appended: it may or "
                                   "may not be stored"),
        unavailable=lambda: StoreUnavailable("the writer process is not running"),
        stop_timeout=30)


def wants_writer_process(settings: Settings) -> bool:
    if settings.writer_process is not None:
        return settings.writer_process
    return helper_processes(usable_cores())[1]


def _observe_commit(notice: bytes) -> None:
    """Counted here, in the server process, where /metrics is served."""
    from advisor.metrics import observe_commit  # not at the top: the writer process imports this module

    observe_commit(*_commit_decoder.decode(notice))


class WriterProcess:
    """The server's side: ``append`` as ``ChainWriter.append``, served by a child process."""

    def __init__(self, settings: Settings, child_module: str = "advisor.workers.writer") -> None:
        self.child_module = child_module  # what the child runs (``python -m``); a benchmark's baseline runs its own
        self.settings = settings
        self.helpers = HelperPool(_kind(self.child_module), settings, 1, on_notice=_observe_commit)

    @property
    def restarts(self) -> int:
        return self.helpers.restarts

    async def start_serving(self) -> None:
        await self.helpers.start()

    async def append(self, draft: Draft) -> Appended:
        if draft.also_write is not None:  # pragma: no cover - a programming error, caught in tests
            raise TypeError("a writer process takes data (Draft.completion), not callbacks (Draft.also_write)")
        answer = self.helpers.submit(_encoder.encode(_Wire(
            id=draft.id, requester=draft.requester, recommendation_raw=draft.recommendation_raw,
            columns=draft.columns, completion=draft.completion, request_id=draft.request_id, review=draft.review)))
        # Not cancelled with its request: once sent, the record is appended whether or not anyone waits.
        stored = _stored_decoder.decode(await asyncio.shield(answer))
        envelope = Envelope(log=self.settings.log_name, seq=stored.seq, prev_hash=stored.prev_hash, id=draft.id,
                            created_at=stored.created_at, requester=draft.requester, key_id=stored.key_id)
        checkpoint = Checkpoint(origin=self.settings.log_name, size=stored.tree_size, root_hash=stored.root_hash,
                                key_id=stored.key_id, note=stored.note)
        return Appended(envelope=envelope, recommendation_raw=draft.recommendation_raw, hash=stored.hash,
                        checkpoint=checkpoint, inclusion_path=stored.inclusion_path)

    async def stop_serving(self) -> None:
        await self.helpers.stop()  # the writer finishes its batch, reads end-of-file and exits


# --- the child process -----------------------------------------------------------------------------------


class _Appending:
    """The child's service: every batch of drafts that has arrived, in one transaction (``commit_batch``)."""

    def __init__(self, writer: ChainWriter) -> None:
        self.writer = writer
        self.max_batch = writer.max_batch
        self._wires = msgspec.msgpack.Decoder(_Wire)

    def handle(self, bodies: Sequence[bytes]) -> list[bytes | BaseException]:
        drafts = [Draft(id=w.id, requester=w.requester, recommendation_raw=w.recommendation_raw, columns=w.columns,
                        completion=w.completion, request_id=w.request_id, review=w.review)
                  for w in map(self._wires.decode, bodies)]
        return [outcome if isinstance(outcome, BaseException) else _encoder.encode(_stored(outcome))
                for outcome in commit_batch(self.writer.append_sync, drafts)]


def _stored(appended: Appended) -> _Stored:
    e = appended.envelope
    c = appended.checkpoint
    return _Stored(seq=e.seq, prev_hash=e.prev_hash, created_at=e.created_at, key_id=e.key_id, hash=appended.hash,
                   tree_size=c.size, root_hash=c.root_hash, note=c.note, inclusion_path=appended.inclusion_path)


@contextlib.contextmanager
def _open(settings: Settings, notify: Notify, append_batch: BatchAppend = signed_append_batch) -> Iterator[_Appending]:
    db = Database.open(settings)
    writer = ChainWriter(db, KeyRing(settings.keys_dir, settings.signing_key_file), settings.log_name,
                         settings.max_batch, append_batch=append_batch,
                         on_commit=lambda size, seconds: notify(_encoder.encode((size, seconds))))
    try:
        yield _Appending(writer)
    finally:
        db.dispose()


def main(argv: list[str] | None = None, append_batch: BatchAppend | None = None) -> None:
    """The writer process; ``append_batch`` replaces the signed append (a benchmark's unsigned baseline)."""
    opened = functools.partial(_open, append_batch=append_batch or signed_append_batch)
    helper_main(_kind("advisor.workers.writer"), opened, argv)


if __name__ == "__main__":
    main()
