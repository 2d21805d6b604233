"""Runs of records checked apart, stitched in log order: the first problem in the log wins."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple

from advisor.audit.merkle import leaf_hash
from advisor.audit.verify.chain import Anchor, ChainWalk, Link
from advisor.audit.verify.heads import Pending, VerifiedHead, check_head, covers, pending_of
from advisor.audit.verify.keys import PublicKey
from advisor.audit.verify.model import Failure, Problem, StoredHead, StoredRecord
from advisor.audit.verify.record import check_record


class RunResult(NamedTuple):
    """What checking a run of consecutive records found: a few hundred bytes, however long the run.

    The first record's place in the chain (a gap or disorder before it, its link, its time, an
    anchor at it) depends on the record before the run, so only its own checks are done with the
    run (``first_failures``) and ``stitch`` does the rest. Every later record is checked entirely,
    in log order, up to the first problem.
    """

    first: Link | None  # None: the run is empty
    first_failures: list[Failure]
    sound: int  # sound records of the run (its first included), up to ``problem``
    last: Link | None  # the last of them
    problem: Problem | None  # the first problem after the first record
    leaves: list[bytes]  # the RFC 9162 leaf hashes of the sound records (32 bytes each, not the records)
    heads: list[VerifiedHead] = []  # the signed tree heads stored among them, signatures verified
    pending: Pending | None = None  # the first record without a JWS after the run's last head


def describe(failures: Sequence[Failure]) -> str:
    return "; ".join(dict.fromkeys(f.detail for f in failures))


def _problem(seq: int, failures: Sequence[Failure]) -> Problem:
    return Problem(seq=seq, kind=failures[0].kind, detail=describe(failures))


def check_run(items: Iterable[StoredRecord | StoredHead], keys: dict[str, PublicKey], log_name: str | None,
              anchors: Sequence[Anchor] = ()) -> RunResult:
    """Check consecutive records (in the order given), every record's checks and every link after the first,
    and the signed tree heads stored among them (each right after the record at its size).

    For each record, in this precedence: a gap or disorder before it, its own checks, then its link,
    its time and any anchor at its seq; it stops at the first problem. A head's problem is at its size.
    """
    walk = ChainWalk(anchors)
    first: Link | None = None
    last: StoredRecord | None = None
    leaves: list[bytes] = []
    heads: list[VerifiedHead] = []
    pending: Pending | None = None

    def stop(problem: Problem, record: StoredRecord) -> RunResult:
        assert first is not None
        return RunResult(first, [], walk.count, Link.of(last or record), problem, leaves, heads)

    for item in items:
        if isinstance(item, StoredHead):
            if last is None:  # before any record of the run: a stray head; the export reader refuses it
                continue
            head = check_head(item, keys, log_name, last)
            failure = head if isinstance(head, Failure) else covers(pending, head)
            if failure is not None:
                return stop(Problem(seq=item.size, kind=failure.kind, detail=failure.detail), last)
            assert isinstance(head, VerifiedHead)
            heads.append(head)
            pending = None
            continue
        record = item
        if first is None:
            first = Link.of(record)
            failures = check_record(record, keys, log_name)
            if failures:
                return RunResult(first, failures, 0, None, None, [])
        else:
            failure = walk.before(record)
            if failure is None:
                failures = check_record(record, keys, log_name)
                if failures:
                    return stop(_problem(record.seq, failures), record)
                failure = walk.after(record)
            if failure is not None:
                return stop(Problem(seq=record.seq, kind=failure.kind, detail=failure.detail), record)
        walk.advance(record)
        leaves.append(leaf_hash(record.payload.encode("utf-8")))
        if record.jws is None and pending is None:
            pending = pending_of(record)
        last = record
    return RunResult(first, [], walk.count, None if last is None else Link.of(last), None, leaves, heads, pending)


def stitch(walk: ChainWalk, run: RunResult) -> Problem | None:
    """Join a run to the chain walked so far (its first record's gap, link, time and anchor); the run's
    first problem, if any. ``walk`` is left after the run's sound records."""
    if run.first is None:
        return None
    failure = walk.before(run.first)
    if failure is None:
        if run.first_failures:
            return _problem(run.first.seq, run.first_failures)
        failure = walk.after(run.first)
    if failure is not None:
        return Problem(seq=run.first.seq, kind=failure.kind, detail=failure.detail)
    assert run.last is not None
    for head in run.heads:
        walk.anchor(Anchor(size=head.size, hash=None, label=f"signed checkpoint stored at size {head.size}",
                           root=head.root, kind="edited"))
    problem = walk.grow(run.leaves[:run.sound])
    if problem is not None:
        return problem
    walk.advance(run.last, run.sound)
    if run.heads:  # the first head of the run covers the records still pending before it
        failure = covers(walk.pending, run.heads[0])
        if failure is not None:  # where check_run reports it too: at the checkpoint
            return Problem(seq=run.heads[0].size, kind=failure.kind, detail=failure.detail)
        walk.pending = None
    if walk.pending is None:
        walk.pending = run.pending
    return run.problem
