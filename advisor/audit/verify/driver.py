"""The process-pool driver: runs of records (or seq ranges a worker reads itself) checked in parallel."""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, Future
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Protocol, TypeVar

import msgspec

from advisor.audit.verify.chain import Anchor, ChainWalk
from advisor.audit.verify.keys import load_keys
from advisor.audit.verify.model import MalformedExport, Problem, StoredHead, StoredRecord, VerifyResult
from advisor.audit.verify.stitch import RunResult, check_run, stitch


class RangeSource(Protocol):
    """Where a worker reads seq ranges from on its own (the store's ``RowSource``): plain, picklable data."""

    def connect(self) -> AbstractContextManager[Any]: ...

    def next_seq(self, conn: Any, after: int | None) -> int | None: ...

    def last_seq(self, conn: Any, upto: int) -> int | None: ...

    def read(self, conn: Any, low: int | None, high: int | None, batch: int = 128) -> Iterator[tuple[Any, ...]]: ...

    def heads(self, conn: Any, low: int | None, high: int | None) -> list[tuple[int, str]]: ...


Item = StoredRecord | StoredHead  # what a run is made of: records, each commit's signed head after its last record


def interleave(records: Iterable[StoredRecord], heads: Iterable[StoredHead], *, trailing: bool = True
               ) -> Iterator[Item]:
    """Records in seq order, each stored head right after the record at its size (a head whose record is missing,
    before the next record); ``trailing``: also the heads past the last record. Both inputs are read lazily."""
    later = iter(heads)
    waiting = next(later, None)
    for record in records:
        while waiting is not None and waiting.size < record.seq:
            yield waiting
            waiting = next(later, None)
        yield record
        while waiting is not None and waiting.size == record.seq:
            yield waiting
            waiting = next(later, None)
    if trailing and waiting is not None:
        yield waiting
        yield from later


SEQ_MAX = 2**63 - 1  # the largest seq a BIGINT column holds


class RunChecker:
    """What a worker needs to check runs: the keys, the log's name, the anchors, and where to read ranges."""

    def __init__(self, jwks: dict[str, Any], log_name: str | None, anchors: Sequence[Anchor] = (),
                 source: RangeSource | None = None, batch: int = 32) -> None:
        self.keys = load_keys(jwks)
        self.log_name, self.anchors, self.source, self.batch = log_name, tuple(anchors), source, batch

    def records(self, records: list[Item]) -> RunResult:
        return check_run(records, self.keys, self.log_name, self.anchors)

    def range(self, bounds: tuple[int | None, int | None]) -> RunResult:
        """The records with ``low < seq <= high`` and the tree heads of sizes in that range, read here."""
        assert self.source is not None
        with self.source.connect() as conn:
            heads = self.source.heads(conn, *bounds)  # one per commit: a few hundred rows at most
            rows = self.source.read(conn, *bounds, batch=self.batch)
            stored_heads = (StoredHead(int(size), str(note)) for size, note in heads)
            items = interleave(map(StoredRecord._make, rows), stored_heads)
            return check_run(items, self.keys, self.log_name, self.anchors)


_worker: list[RunChecker] = []  # a worker process's own


def _init_worker(jwks: dict[str, Any], log_name: str | None, anchors: Sequence[Anchor],
                 source: RangeSource | None) -> None:
    _worker[:] = [RunChecker(jwks, log_name, anchors, source)]


def _check_records_in_worker(records: list[Item]) -> RunResult:
    return _worker[0].records(records)


def _check_range_in_worker(bounds: tuple[int | None, int | None]) -> RunResult:
    return _worker[0].range(bounds)


@contextmanager
def _worker_processes(count: int, initargs: tuple[Any, ...]) -> Iterator[Executor | None]:
    """``count`` worker processes (None for none), each set up once with ``initargs`` for ``_init_worker``."""
    if count < 1:
        yield None
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # spawn, not fork: the caller may be a server or a test process with threads running.
    executor = ProcessPoolExecutor(count, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_init_worker, initargs=initargs)
    try:
        yield executor
    finally:
        executor.shutdown(wait=True, cancel_futures=True)


Job = TypeVar("Job")


def _drive(jobs: Iterator[Job], check_here: Callable[[Job], RunResult], executor: Executor | None,
           check_there: Callable[[Job], RunResult], processes: int, walk: ChainWalk,
           progress: Callable[[int], None] | None) -> Problem | None:
    """Check each job's run and stitch the runs in order; the first problem in log order.

    A job goes to the ``processes`` worker processes of ``executor`` while fewer than two per process
    are waiting there, else it is checked here: this process, idle otherwise, is one more worker.
    At most ``4 * (processes + 1)`` runs are checked ahead of the stitching. A ``MalformedExport``
    from ``jobs`` comes after every record before it.
    """
    inflight: deque[Future[RunResult]] = deque()
    ahead = 4 * (processes + 1)

    def settle() -> Problem | None:
        run = inflight.popleft().result()
        problem = stitch(walk, run)
        if problem is None and progress is not None and run.sound:
            progress(run.sound)
        return problem

    malformed: MalformedExport | None = None
    try:
        for job in jobs:
            future: Future[RunResult]
            if executor is not None and sum(not f.done() for f in inflight) < 2 * processes:
                future = executor.submit(check_there, job)
            else:
                future = Future()
                future.set_result(check_here(job))
            inflight.append(future)
            while inflight and (inflight[0].done() or len(inflight) > ahead):
                problem = settle()
                if problem is not None:
                    return problem
    except MalformedExport as exc:
        malformed = exc
    while inflight:  # an earlier problem wins over a later one
        problem = settle()
        if problem is not None:
            return problem
    if malformed is not None:
        return Problem(seq=walk.seq + 1, kind="edited", detail=str(malformed))
    return walk.at_end()


def _chunks(records: Iterable[Item], size: int) -> Iterator[list[Item]]:
    """Runs of about ``size`` items, each cut before a record (a head stays in the run of its records)."""
    chunk: list[Item] = []
    try:
        for record in records:
            if len(chunk) >= size and isinstance(record, StoredRecord):
                yield chunk
                chunk = []
            chunk.append(record)
    except MalformedExport:
        if chunk:  # the records before the bad line are still checked, and may fail first
            yield chunk
        raise
    if chunk:
        yield chunk


def worker_processes(workers: int | None) -> int:
    """Processes to start besides this one, which checks too: ``workers`` in all (default: one per CPU)."""
    return max((len(os.sched_getaffinity(0)) if workers is None else workers) - 1, 0)


def _result(walk: ChainWalk, problem: Problem | None) -> VerifyResult:
    """``records``, ``last_seq`` and ``last_hash`` describe the sound records before ``problem``."""
    return VerifyResult(records=walk.count, last_seq=walk.seq, last_hash=walk.hash, problem=problem)


def out_of_place(result: VerifyResult, records: Iterable[Item]) -> VerifyResult:
    """A gap whose records turn up later in the same file was not a deletion: the lines were reordered.

    The walk stops at the first gap (it reads once, in order); only then is the file read again,
    for the missing seqs.
    """
    problem = result.problem
    if problem is None or problem.kind != "deleted":
        return result
    missing = range(result.last_seq + 1, problem.seq)
    for record in records:
        if isinstance(record, StoredRecord) and record.seq in missing:
            return msgspec.structs.replace(result, problem=Problem(
                seq=problem.seq, kind="reordered", detail=f"record {record.seq} is out of place: it should come "
                f"before record {problem.seq}, and comes after it"))
    return result


def verify_records(records: Iterable[Item], jwks: dict[str, Any], *, log_name: str | None = None,
                   anchors: Sequence[Anchor] = (), workers: int | None = None, chunk_size: int = 256,
                   progress: Callable[[int], None] | None = None,
                   reread: Callable[[], Iterable[Item]] | None = None) -> VerifyResult:
    """Verify a log given in seq order (an export file, a list), each stored head after the record at its size;
    stop at the first problem.

    This process reads the records, checks chunks of ``chunk_size`` itself and sends others to
    ``workers - 1`` worker processes (``workers`` defaults to one per CPU; 0 or 1: none).
    A database is faster to verify with ``verify_database``, whose workers read their own records.
    ``reread`` gives the records again (a sequence is its own): a gap is then told from lines out of order.
    """
    checker = RunChecker(jwks, log_name, anchors)  # a bad JWKS fails here, before any process starts
    processes = worker_processes(workers)
    walk = ChainWalk(anchors)
    with _worker_processes(processes, (jwks, log_name, tuple(anchors), None)) as executor:
        problem = _drive(_chunks(records, chunk_size), checker.records, executor, _check_records_in_worker,
                         processes, walk, progress)
    if reread is None and isinstance(records, Sequence):
        reread = lambda: records  # noqa: E731 - a sequence reads again as it is
    return _result(walk, problem) if reread is None else out_of_place(_result(walk, problem), reread())


def seq_ranges(source: RangeSource, conn: Any, size: int) -> Iterator[tuple[int | None, int | None]]:
    """``(low, high]`` bounds that tile every seq stored (None: unbounded), each with about ``size`` records.

    Each range starts and ends at a seq stored when it is planned (two index seeks), so a gap however
    long (or a seq far out) costs no empty range, and a record appended while the log is verified
    falls in a later range: appends commit in seq order, so every seq up to ``high`` is already there
    for whoever reads the range, however late. (A range ending past the stored head could be read
    before appends fill it, and the next range would then start past records nobody read.)
    """
    high: int | None = None
    while True:
        start = source.next_seq(conn, high)
        if start is None:
            return
        end = source.last_seq(conn, min(start + size - 1, SEQ_MAX))
        low, high = high, max(start, end if end is not None else start)
        yield low, high




def verify_ranges(source: RangeSource, jwks: dict[str, Any], log_name: str, anchors: Sequence[Anchor], *,
                  workers: int | None = None, range_size: int = 2048,
                  progress: Callable[[int], None] | None = None) -> VerifyResult:
    """The log ``source`` reads, cut into seq ranges of about ``range_size`` records.

    This process and ``workers - 1`` worker processes (``workers`` defaults to one per CPU; 0 or 1:
    this process alone) each read a range straight from ``source``, check every record and every
    link inside it, and keep only what ``stitch`` needs to join the ranges in order here: no record
    crosses between processes.
    """
    checker = RunChecker(jwks, log_name, anchors, source)
    processes = worker_processes(workers)
    walk = ChainWalk(anchors)
    with source.connect() as conn, _worker_processes(processes, (jwks, log_name, tuple(anchors), source)) as pool:
        problem = _drive(seq_ranges(source, conn, range_size), checker.range, pool, _check_range_in_worker,
                         processes, walk, progress)
    return _result(walk, problem)
