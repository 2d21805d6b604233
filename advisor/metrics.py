"""The service's Prometheus counters (served by ``advisor.api.metrics``).

Only ``prometheus_client``: the store, the helpers and the API all count here, so it imports none of them.

Requests by route template and status, and their durations, come from Litestar's
``PrometheusMiddleware``. The service's own metrics are counted in the server process, where results
arrive: a writer *process* reports each batch's size and commit time back over its socket, and
helper restarts are seen by the parent that restarts them.

With ``advisor serve --workers N`` (N > 1) each worker has its own counters; ``advisor serve`` then
points ``PROMETHEUS_MULTIPROC_DIR`` at a fresh directory so any worker's ``/metrics`` reports them all.
"""

from __future__ import annotations

from prometheus_client import (
    Counter,
    Gauge,
    Histogram,
)

PREFIX = "advisor"

ASSESSMENTS = Counter(f"{PREFIX}_assessments_total", "Assessments stored, by decision", ["decision"])
BATCH_SIZE = Histogram(f"{PREFIX}_writer_batch_size", "Records appended per group commit",
                       buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024))
COMMIT_SECONDS = Histogram(f"{PREFIX}_writer_commit_seconds", "Time to lock, link, sign, insert and commit one batch",
                           buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
CHAIN_LENGTH = Gauge(f"{PREFIX}_chain_length", "Records in the log, as of the latest append seen by this process",
                     multiprocess_mode="max")
HELPER_RESTARTS = Counter(f"{PREFIX}_helper_restarts_total", "Helper processes that died and were replaced",
                          ["helper"])
INTEGRITY_FAILURES = Counter(f"{PREFIX}_integrity_failures_total",
                             "Problems found in stored records, by kind: verifying one "
                             "(GET /assessments/{id}/verification), and record-integrity for a record refused on "
                             "read or listed as failed",
                             ["kind"])


def observe_commit(size: int, seconds: float) -> None:
    BATCH_SIZE.observe(size)
    COMMIT_SECONDS.observe(seconds)


def assessment_stored(decision: str, seq: int) -> None:
    ASSESSMENTS.labels(decision=decision).inc()
    CHAIN_LENGTH.set(seq)
