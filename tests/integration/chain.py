"""The whole signed log, verified the way an auditor would, for tests that hammer it from many processes."""

from __future__ import annotations

from sqlalchemy import Engine

from advisor.settings import Settings
from advisor.store.repository import Repository
from advisor.store.verification import verify_database


def check_chain(engine: Engine, log_name: str = Settings().log_name) -> list[str]:
    """Every record's id in seq order; ``AssertionError`` names the first fork, gap, bad hash or signature.

    ``advisor.audit.verify`` walks seq 1..N, each ``prev_hash`` link, each hash and signature (keys from
    the database's JWKS) and the chain head; one worker: small logs, and no processes to clean up.
    """
    result = verify_database(engine, log_name, workers=1)
    assert result.problem is None, f"the log does not verify: {result.problem}"
    ids = [row.id for row in Repository(engine).iter_rows()]
    assert result.records == len(ids) == result.last_seq
    return ids
