"""Helpers for the audit-trail tests: fill a log through the real writer, tamper with its SQLite file.

Tampering goes straight to the file with the stdlib ``sqlite3`` module, as an attacker with the
file would, never through the service's own code.
"""

from __future__ import annotations

import functools
import hashlib
import json
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, select, update
from sqlalchemy.engine import make_url

from advisor.audit.canonical import canonical_bytes
from advisor.audit.checkpoint import sign_checkpoint
from advisor.audit.jws import sign_detached
from advisor.audit.keys import SigningKey, load_key_dir
from advisor.audit.merkle import extend, frontier_nodes, leaf_hash, root_of
from advisor.services import Services
from advisor.settings import Settings
from advisor.store.tables import records
from advisor.store.writer import Appended, ChainWriter, Draft
from tests.factories import make_profile

REQUESTERS = ("cl-00000000000000a1", "cl-00000000000000b2", "cl-00000000000000c3")


def append_records(services: Services, count: int, batch: int = 7) -> list[Appended]:
    """``count`` records through the real writer (group commits of ``batch``), varied in org, size and requester."""
    appended: list[Appended] = []
    for first in range(0, count, batch):
        drafts = []
        for i in range(first, min(count, first + batch)):
            profile = make_profile(organization={"name": f"Org {i % 5}"},
                                   workload={"daily_tokens": 50_000 * (1 + i % 9),
                                             "volume_certainty": ("validation", "growing", "steady")[i % 3]},
                                   team={"ml_infra_engineers": i % 3})
            drafts.append(Draft.new(id=str(uuid.uuid4()), requester=REQUESTERS[i % len(REQUESTERS)],
                                    recommendation=services.advisor.assess(profile)))
        appended.extend(in_process_writer(services).append_sync(drafts))
    return appended


def sqlite_path(settings: Settings) -> Path:
    database = make_url(settings.database_url).database
    assert database, "these tests tamper with a SQLite file"
    return Path(database)


@contextmanager
def tampering(settings: Settings) -> Iterator[sqlite3.Connection]:
    """A raw connection to the database file, committed on exit."""
    with closing(sqlite3.connect(sqlite_path(settings))) as conn:
        conn.row_factory = sqlite3.Row
        yield conn
        conn.commit()


def row(conn: sqlite3.Connection, seq: int) -> sqlite3.Row:
    found: sqlite3.Row | None = conn.execute("SELECT * FROM records WHERE seq = ?", (seq,)).fetchone()
    assert found is not None, f"no record {seq}"
    return found


def rewrite_payload(conn: sqlite3.Connection, seq: int, edit: Any, *, rehash: bool = False,
                    columns: dict[str, Any] | None = None) -> None:
    """Edit the signed document of record ``seq`` (kept canonical), optionally recompute its hash column."""
    document = json.loads(row(conn, seq)["payload"])
    edit(document)
    raw = canonical_bytes(document)
    values: dict[str, Any] = {"payload": raw.decode("utf-8"), **(columns or {})}
    if rehash:
        values["hash"] = hashlib.sha256(raw).hexdigest()
    assignments = ", ".join(f"{name} = ?" for name in values)
    conn.execute(f"UPDATE records SET {assignments} WHERE seq = ?", (*values.values(), seq))  # noqa: S608


def forge_record(conn: sqlite3.Connection, key: SigningKey, *, log: str, created_at: str,
                 template_seq: int = 1) -> int:
    """Append a correctly linked record signed by ``key``, moving the chain head to it; its seq."""
    head = conn.execute("SELECT seq, hash FROM chain_head WHERE id = 1").fetchone()
    seq, prev_hash = int(head["seq"]) + 1, str(head["hash"])
    template = row(conn, template_seq)
    document = json.loads(template["payload"])
    document.update(log=log, seq=seq, prev_hash=prev_hash, id=str(uuid.uuid4()), created_at=created_at,
                    key_id=key.kid)
    raw = canonical_bytes(document)
    digest = hashlib.sha256(raw).hexdigest()
    rec = document["recommendation"]
    conn.execute(
        "INSERT INTO records (seq, id, prev_hash, hash, created_at, requester, organization, decision, strength, "
        "rules_digest, catalog_id, key_id, payload, jws) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (seq, document["id"], prev_hash, digest, created_at, document["requester"],
         rec["profile"]["organization"]["name"], rec["decision"], rec["strength"], rec["versions"]["rules_digest"],
         rec["versions"]["catalog_id"], key.kid, raw.decode("utf-8"), sign_detached(key, raw)))
    conn.execute("UPDATE chain_head SET seq = ?, hash = ? WHERE id = 1", (seq, digest))
    grow_tree(conn, seq - 1, [raw])
    return seq


def grow_tree(conn: sqlite3.Connection, size: int, payloads: list[bytes]) -> None:
    """Extend the stored Merkle tree of ``size`` records by ``payloads``, as an attacker who knows RFC 9162 would."""
    frontier = [bytes(conn.execute("SELECT hash FROM merkle_nodes WHERE level = ? AND idx = ?", node).fetchone()[0])
                for node in frontier_nodes(size)]
    created, _ = extend(size, frontier, [leaf_hash(payload) for payload in payloads])
    conn.executemany("INSERT OR REPLACE INTO merkle_nodes (level, idx, hash) VALUES (?, ?, ?)", created)


def rebuild_tree(conn: sqlite3.Connection, settings: Settings) -> None:
    """The attacker's whole tree and every tree head rebuilt from the (rewritten) records, re-signed with the
    real key: the strongest attack short of keeping old checkpoints from the auditor."""
    rows = [r[0].encode() for r in conn.execute("SELECT payload FROM records ORDER BY seq")]
    created, _ = extend(0, [], [leaf_hash(p) for p in rows])
    conn.execute("DELETE FROM merkle_nodes")
    conn.executemany("INSERT INTO merkle_nodes (level, idx, hash) VALUES (?, ?, ?)", created)
    key = next(iter(load_key_dir(settings.keys_dir).values()))
    for (size,) in conn.execute("SELECT size FROM tree_heads").fetchall():
        forged = sign_checkpoint(settings.log_name, size, root_of([leaf_hash(p) for p in rows[:size]]), key)
        conn.execute("UPDATE tree_heads SET root_hash = ?, note = ? WHERE size = ?",
                     (forged.root_hash, forged.note, size))


def relink_from(conn: sqlite3.Connection, seq: int) -> None:
    """Re-link every record from ``seq`` on to its (rewritten) predecessor, re-hash it, move the chain head and
    rebuild the Merkle tree: everything an attacker without the signing key can redo. The heads stay."""
    prev = str(row(conn, seq - 1)["hash"])
    for (current,) in conn.execute("SELECT seq FROM records WHERE seq >= ? ORDER BY seq", (seq,)).fetchall():
        rewrite_payload(conn, current, functools.partial(dict.update, prev_hash=prev), rehash=True,
                        columns={"prev_hash": prev})
        prev = str(row(conn, current)["hash"])
    conn.execute("UPDATE chain_head SET hash = ? WHERE id = 1", (prev,))
    payloads = [r[0].encode() for r in conn.execute("SELECT payload FROM records ORDER BY seq")]
    created, _ = extend(0, [], [leaf_hash(p) for p in payloads])
    conn.execute("DELETE FROM merkle_nodes")
    conn.executemany("INSERT INTO merkle_nodes (level, idx, hash) VALUES (?, ?, ?)", created)


def bump(document: dict[str, Any]) -> None:
    document["recommendation"]["profile"]["workload"]["daily_tokens"] += 1


def in_process_writer(services: Services) -> ChainWriter:
    """The app's writer when it runs in the server's process (the tests' settings ask for that)."""
    assert isinstance(services.writer, ChainWriter), "these tests need writer_process=False"
    return services.writer


def sign_legacy_jws(conn: Connection, services: Services) -> int:
    """Give every record without a JWS the detached JWS the writer before revision 0008 stored with each record
    (same key, same bytes): a log of legacy records, built through today's writer. How many were signed."""
    unsigned = conn.execute(select(records.c.seq, records.c.key_id, records.c.payload)
                            .where(records.c.jws.is_(None))).all()
    for seq, kid, payload in unsigned:
        jws = sign_detached(services.keyring.private(str(kid)), str(payload).encode("utf-8"))
        conn.execute(update(records).where(records.c.seq == seq).values(jws=jws))
    return len(unsigned)


def append_legacy_records(services: Services, count: int, batch: int = 7) -> list[Appended]:
    """``append_records``, then each record signed as the writer before revision 0008 signed it."""
    appended = append_records(services, count, batch)
    with services.engine.begin() as conn:
        sign_legacy_jws(conn, services)
    return appended
