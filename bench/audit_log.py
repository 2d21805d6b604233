"""A large signed log for the audit benchmarks, built through the real append path.

Records are appended with ``advisor.store.writer.append_batch`` (the writer's own link-insert-sign
transaction: one signed checkpoint per batch) in batches (5,000 by default; ``--commit-size`` of
verify_bench builds with the group commits a loaded server makes), cycling through real
recommendations of varied profiles, many requesters and organisations. Building uses
``synchronous=OFF``: it is a fixture, not a durability test.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

from advisor.app import build_services, ensure_signing_key
from advisor.audit.record import Columns, recommendation_bytes
from advisor.settings import Settings
from advisor.store.database import migrate
from advisor.store.repository import Repository
from advisor.store.writer import ChainWriter, Draft
from bench.profiles import make_profiles

BATCH = 5000
REQUESTERS = [f"cl-{i:016x}" for i in range(64)]


def settings_for(db: Path, *, synchronous: str = "OFF") -> Settings:
    return Settings(database_url=f"sqlite:///{db}", keys_dir=db.parent / "keys", sqlite_synchronous=synchronous,
                    evaluators=0, writer_process=False)


def build_log(db: Path, records: int, distinct: int = 256, batch: int = BATCH) -> tuple[int, float]:
    """Extend the log at ``db`` to ``records`` records in group commits of ``batch`` (each signs one checkpoint:
    a verifier checks one Ed25519 signature per commit); return (records appended now, seconds)."""
    settings = settings_for(db)
    migrate(settings)
    services = build_services(settings)
    try:
        ensure_signing_key(services)
        have = Repository(services.engine).head()[0]
        if have >= records:
            return 0, 0.0
        import msgspec

        from advisor.domain.profile import Profile

        recommendations = [services.advisor.assess(msgspec.convert(body, Profile))
                           for body in make_profiles(distinct)]
        raws = [recommendation_bytes(r) for r in recommendations]
        columns = [Columns.of(r) for r in recommendations]
        started = time.perf_counter()
        for first in range(have, records, batch):
            drafts = [Draft(id=str(uuid.uuid4()), requester=REQUESTERS[i % len(REQUESTERS)],
                            recommendation_raw=raws[i % distinct], columns=columns[i % distinct])
                      for i in range(first, min(records, first + batch))]
            writer = services.writer
            assert isinstance(writer, ChainWriter)  # settings_for asks for the in-process writer
            writer.append_sync(drafts)
        return records - have, time.perf_counter() - started
    finally:
        services.engine.dispose()
