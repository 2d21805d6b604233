"""Appends to the signed log with group commit.

One writer thread per process takes every append waiting in its queue, locks the chain head
(``BEGIN IMMEDIATE`` on SQLite, ``SELECT ... FOR UPDATE`` on PostgreSQL), links and inserts them
all, extends the Merkle tree, signs ONE checkpoint over its new root (revision 0008: no record is
signed on its own; the checkpoint's signature covers every record of the commit), and commits
once. One durable commit then acknowledges many requests: the commit, not the HTTP stack or the
rules, is the scarce resource. No caller hears "201" before that commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import msgspec
from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError

from advisor.audit.checkpoint import Checkpoint
from advisor.audit.formats import utc_now
from advisor.audit.merkle import leaf_hash
from advisor.audit.record import (
    ASSESSMENT,
    REVIEW,
    Columns,
    Envelope,
    recommendation_bytes,
    record_hash,
    splice_payload,
    splice_review,
)
from advisor.domain.recommendation import Recommendation
from advisor.store import database
from advisor.store.database import Database
from advisor.store.errors import CommitUnknown, DraftRejected, RecordRefused, StoreUnavailable
from advisor.store.idempotency import IdempotencyStore
from advisor.store.keyring import KeyRing
from advisor.store.tables import chain_head, records
from advisor.store.tree import extend_tree

log = logging.getLogger(__name__)


class Completion(msgspec.Struct, frozen=True, kw_only=True):
    """An Idempotency-Key claim to complete with the record's 201, in the record's own transaction.

    Data, not a callback, so that a writer in another process can apply it too.
    """

    client_id: str
    key: str
    owner: str
    headers: dict[str, str]


class Draft(msgspec.Struct, frozen=True, kw_only=True):
    """A recommendation (or a review of one) waiting for its place in the log."""

    id: str
    requester: str
    recommendation_raw: bytes  # canonical bytes of the recommendation (record.recommendation_bytes), or the review's
    columns: Columns | None  # None for a review: it has no organization, strength, rules or catalog of its own
    review: ReviewColumns | None = None  # set for a review record (record.splice_review)
    completion: Completion | None = None
    request_id: str | None = None  # the HTTP request's, for the writer's log lines about this draft
    # Extra rows written in the same transaction, given the result (tests; in-process writers only).
    also_write: Callable[[Connection, Appended], None] | None = None

    @classmethod
    def new(cls, *, id: str, requester: str, recommendation: Recommendation,
            also_write: Callable[[Connection, Appended], None] | None = None) -> Draft:
        """A draft with its recommendation canonicalised now, on the caller's thread, not the writer's."""
        return cls(id=id, requester=requester, recommendation_raw=recommendation_bytes(recommendation),
                   columns=Columns.of(recommendation), also_write=also_write)


class ReviewColumns(msgspec.Struct, frozen=True, kw_only=True):
    """A review's queryable copies: the assessment it judges and its verdict."""

    subject: str
    verdict: str


class Appended(msgspec.Struct, frozen=True, kw_only=True):
    """A committed record and its receipt's proof: its commit's signed checkpoint and its inclusion path there."""

    envelope: Envelope
    recommendation_raw: bytes
    hash: str
    checkpoint: Checkpoint  # signed by the commit, over the tree of ``checkpoint.size`` records
    inclusion_path: list[bytes]  # RFC 9162, from the record's leaf to ``checkpoint``'s root


def append_batch(conn: Connection, keyring: KeyRing, log_name: str, drafts: Sequence[Draft],
                 db: Database) -> list[Appended]:
    """Link and insert ``drafts``, and sign the commit's checkpoint, in one transaction the caller opened with
    ``db.begin_write``. Each record's proof comes back with it: no proof is read to answer for it."""
    seq, prev = db.lock_head(conn)
    key, key_since = keyring.active_since(conn)
    # Time never runs backwards along the log, whatever the clocks of the replicas: a record is
    # stamped no earlier than its predecessor nor than its key's window. That makes a time window
    # a seq range (fast listing) and lets the verifier treat a backwards step as tampering.
    last = conn.execute(select(records.c.created_at).where(records.c.seq == seq)).scalar() if seq else None
    now = max(utc_now(), key_since, last or "")
    envelopes: list[Envelope] = []
    rows: list[dict[str, Any]] = []
    leaves: list[bytes] = []
    first = seq
    for draft in drafts:
        seq += 1
        envelope = Envelope(log=log_name, seq=seq, prev_hash=prev, id=draft.id, created_at=now,
                            requester=draft.requester, key_id=key.kid)
        if draft.review is not None:
            raw = splice_review(envelope, draft.recommendation_raw)
            queryable: dict[str, Any] = {"kind": REVIEW, "subject": draft.review.subject,
                                         "decision": draft.review.verdict}
        else:
            raw = splice_payload(envelope, draft.recommendation_raw)
            columns = draft.columns
            assert columns is not None  # an assessment always has them
            queryable = {"kind": ASSESSMENT, "subject": columns.subject, "organization": columns.organization,
                         "decision": columns.decision, "strength": columns.strength,
                         "rules_digest": columns.rules_digest, "catalog_id": columns.catalog_id}
        digest = record_hash(raw)
        rows.append({
            "seq": seq, "id": draft.id, "prev_hash": prev, "hash": digest, "created_at": now,
            "requester": draft.requester, "organization": None, "decision": None, "strength": None,
            "rules_digest": None, "catalog_id": None, "key_id": key.kid, "payload": raw.decode("utf-8"), "jws": None,
            **queryable,
        })
        leaves.append(leaf_hash(raw))
        envelopes.append(envelope)
        prev = digest
    conn.execute(insert(records), rows)
    # The Merkle tree, one signed checkpoint for the commit, and each record's inclusion path in its tree.
    checkpoint, paths = extend_tree(conn, first, leaves, key, log_name)
    appended = [Appended(envelope=envelope, recommendation_raw=draft.recommendation_raw, hash=row["hash"],
                         checkpoint=checkpoint, inclusion_path=path)
                for envelope, draft, row, path in zip(envelopes, drafts, rows, paths, strict=True)]
    conn.execute(update(chain_head).where(chain_head.c.id == 1).values(seq=seq, hash=prev))
    for draft, result in zip(drafts, appended, strict=True):
        if draft.completion is not None:
            done = draft.completion
            IdempotencyStore.complete(conn, done.client_id, done.key, done.owner, draft.id, 201, done.headers)
        if draft.also_write is not None:
            draft.also_write(conn, result)
    return appended


_Item = tuple[Draft, asyncio.Future[Appended], asyncio.AbstractEventLoop]
BatchAppend = Callable[[Connection, KeyRing, str, Sequence[Draft], Database], list[Appended]]
"""``append_batch``'s shape: a benchmark's baseline hands ``ChainWriter`` another one (unsigned)."""


class Appender(Protocol):
    """What the API needs of a writer: a thread here (``ChainWriter``) or a process (``WriterProcess``)."""

    async def append(self, draft: Draft) -> Appended: ...

    async def start_serving(self) -> None: ...

    async def stop_serving(self) -> None: ...


class ChainWriter:
    def __init__(self, db: Database, keyring: KeyRing, log_name: str, max_batch: int,
                 on_commit: Callable[[int, float], None] | None = None,
                 append_batch: BatchAppend = append_batch) -> None:
        self.db = db
        self.append_batch = append_batch
        self.on_commit = on_commit  # (records, seconds) after each committed batch: metrics
        self.keyring = keyring
        self.log_name = log_name
        self.max_batch = max_batch
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="chain-writer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=30)
            self._thread = None

    async def append(self, draft: Draft) -> Appended:
        if self._thread is None or not self._thread.is_alive():  # never leave a request waiting forever
            raise StoreUnavailable("the chain writer is not running")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Appended] = loop.create_future()
        self._queue.put((draft, future, loop))
        return await future

    def append_sync(self, drafts: Sequence[Draft]) -> list[Appended]:
        """One transaction; an error before COMMIT stored nothing, an error during it is ``CommitUnknown``."""
        started = time.perf_counter()
        with self.db.connect() as conn:
            transaction = self.db.begin_write(conn)
            try:
                results = self.append_batch(conn, self.keyring, self.log_name, drafts, self.db)
            except BaseException:
                with contextlib.suppress(Exception):  # a dead connection cannot roll back; the server does
                    transaction.rollback()
                raise
            try:
                transaction.commit()
            except Exception as exc:
                raise CommitUnknown(f"commit outcome unknown: {type(exc).__name__}") from exc
        if self.on_commit is not None:
            self.on_commit(len(drafts), time.perf_counter() - started)
        return results

    def _run(self) -> None:
        """The loop outlives any error: a database outage fails the waiting batch (503), never the thread."""
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < self.max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stopping = True
                    break
                batch.append(item)
            try:
                self._commit(batch)
            except Exception:  # pragma: no cover - _commit handles its own errors; this is the last guard
                log.exception("chain writer: unexpected error; continuing")

    def _commit(self, batch: list[_Item]) -> None:
        outcomes = commit_batch(self.append_sync, [draft for draft, _, _ in batch])
        for (_, future, loop), outcome in zip(batch, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                _notify(loop, _fail, future, outcome)
            else:
                _notify(loop, _succeed, future, outcome)

    async def start_serving(self) -> None:
        self.start()

    async def stop_serving(self) -> None:
        self.stop()


def is_outage(exc: BaseException) -> bool:
    """The database or the connection failed (retry later), as opposed to one record's data being refused."""
    return isinstance(exc, StoreUnavailable | OSError) or database.is_outage(exc)


def commit_batch(append_sync: Callable[[Sequence[Draft]], list[Appended]],
                 drafts: Sequence[Draft]) -> list[Appended | StoreUnavailable | DraftRejected]:
    """Append ``drafts`` in one transaction; the outcome of each (its record, or why it is not stored).

    When the transaction fails for any reason but an outage (one draft's rows refused: a lost
    idempotency claim, a duplicate, data the database cannot store), the batch is split in halves
    and each half committed on its own, so only the drafts at fault fail and every other one
    commits. A draft that fails alone for its own data is :class:`RecordRefused`, never the
    retryable :class:`StoreUnavailable` (its retry could never succeed).
    """
    try:
        return list(append_sync(drafts))
    except Exception as exc:
        if is_outage(exc):
            log.warning("append of %d record(s) failed: %s", len(drafts), _describe(exc))
            error = exc if isinstance(exc, StoreUnavailable) else StoreUnavailable(_describe(exc))
            return [error] * len(drafts)
        if len(drafts) > 1:
            log.info("batch of %d failed (%s); committing it in halves", len(drafts), type(exc).__name__)
            half = len(drafts) // 2
            return [*commit_batch(append_sync, drafts[:half]), *commit_batch(append_sync, drafts[half:])]
        log.warning("append of record %s failed: %s", drafts[0].id, _describe(exc),
                    extra={"request_id": drafts[0].request_id})
        if isinstance(exc, DraftRejected):
            return [exc]
        if isinstance(exc, IntegrityError):  # a unique key taken (e.g. a colliding id): a retry gets a new id
            return [StoreUnavailable(_describe(exc))]
        return [RecordRefused(f"the database refused this record: {_describe(exc)}")]


def _describe(exc: BaseException) -> str:
    """The error's kind, never its SQL or parameters (other clients' data may be among them)."""
    orig = getattr(exc, "orig", None)
    return type(exc).__name__ + (f" ({type(orig).__name__})" if orig is not None else "")


def _notify(loop: asyncio.AbstractEventLoop, callback: Callable[..., None], *args: Any) -> None:
    try:
        loop.call_soon_threadsafe(callback, *args)
    except RuntimeError:  # the caller's event loop has closed (shutdown): nobody is waiting any more
        log.debug("chain writer: a waiting request's event loop is closed")


def _succeed(future: asyncio.Future[Appended], result: Appended) -> None:
    if not future.done():
        future.set_result(result)


def _fail(future: asyncio.Future[Appended], error: BaseException) -> None:
    if not future.done():
        future.set_exception(error)
