"""Runs of records checked apart, stitched in log order: the first problem in the log wins."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple

from advisor.audit.merkle import leaf_hash
from advisor.audit.verify.chain import Anchor, ChainWalk, Link
from advisor.audit.verify.keys import PublicKey
from advisor.audit.verify.model import Failure, Problem, StoredRecord
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


def describe(failures: Sequence[Failure]) -> str:
    return "; ".join(dict.fromkeys(f.detail for f in failures))


def _problem(seq: int, failures: Sequence[Failure]) -> Problem:
    return Problem(seq=seq, kind=failures[0].kind, detail=describe(failures))


def check_run(records: Iterable[StoredRecord], keys: dict[str, PublicKey], log_name: str | None,
              anchors: Sequence[Anchor] = ()) -> RunResult:
    """Check consecutive records (in the order given), every record's checks and every link after the first.

    For each record, in this precedence: a gap or disorder before it, its own checks, then its link,
    its time and any anchor at its seq; it stops at the first problem.
    """
    walk = ChainWalk(anchors)
    first: Link | None = None
    last: StoredRecord | None = None
    leaves: list[bytes] = []
    for record in records:
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
                    return RunResult(first, [], walk.count, Link.of(last or record), _problem(record.seq, failures),
                                     leaves)
                failure = walk.after(record)
            if failure is not None:
                return RunResult(first, [], walk.count, Link.of(last or record),
                                 Problem(seq=record.seq, kind=failure.kind, detail=failure.detail), leaves)
        walk.advance(record)
        leaves.append(leaf_hash(record.payload.encode("utf-8")))
        last = record
    return RunResult(first, [], walk.count, None if last is None else Link.of(last), None, leaves)


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
    problem = walk.grow(run.leaves[:run.sound])
    if problem is not None:
        return problem
    walk.advance(run.last, run.sound)
    return run.problem
