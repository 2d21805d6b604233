"""Streaming verification of the signed log, from the database or from an export file.

Each record is checked on its own (canonical bytes, hash, columns against the signed payload,
JWS header, signature, key window) and in the chain (sequence without gaps, each ``prev_hash``
equal to the previous hash, time never running backwards, the hash at each checkpoint's size).
The log is cut into runs of consecutive records (seq ranges of a database, chunks of an export
file), checked by this process and by worker processes, each run entirely except its first
record's place in the chain, which ``stitch`` checks here when it joins the runs in log order.
A database's workers read their ranges themselves, so no record crosses between processes. Only
a few runs are in flight at once, so memory stays flat whatever the log's length. The first
problem in log order is reported, with one kind:

``edited``       stored bytes changed after signing (hash, signature, column or JWS mismatch)
``deleted``      a gap in the sequence (reported at the record after the gap) whose records are nowhere else
``reordered``    a record signed for another position (its signed ``seq`` is not where it is), or an
                 export's lines out of order (the missing records come later in the file)
``forged``       inserted or forged: validly signed but not a record of this chain (another log,
                 another type, an algorithm never accepted, or a fork that does not link)
``unknown_key``  signed by a key the JWKS does not list
``retired_key``  signed by a known key outside its validity window (``nbf``..``exp``)
``truncated``    shorter than a checkpoint says, or different at the checkpoint's size
``unsigned``     a record without a JWS of its own (revision 0008 on: signed by its commit's checkpoint) that
                 no stored, verified checkpoint at or after it covers (the checkpoints were removed)

A record without a JWS is covered by the signed tree heads stored after it (``heads``): each head's
note must verify with a known key valid at its commit's time (else ``unknown_key``, ``retired_key``,
or ``edited``), and its root must be the root of the records walked up to its size (else ``edited``).
"""

from __future__ import annotations

from advisor.audit.verify.chain import Anchor, ChainFields, ChainWalk, Link
from advisor.audit.verify.driver import (
    SEQ_MAX,
    Item,
    Job,
    RangeSource,
    RunChecker,
    interleave,
    out_of_place,
    seq_ranges,
    verify_ranges,
    verify_records,
    worker_processes,
)
from advisor.audit.verify.export import export_records
from advisor.audit.verify.keys import PublicKey, load_keys, parse_time
from advisor.audit.verify.model import (
    Check,
    CheckpointLine,
    ExportLine,
    Failure,
    JwksError,
    Kind,
    MalformedExport,
    Problem,
    StoredHead,
    StoredRecord,
    VerifyResult,
)
from advisor.audit.verify.record import COLUMN_PATHS, b64url_bytes, check_record
from advisor.audit.verify.report import Checks, KeyStatus, Neighbour, RecordVerification, verify_one
from advisor.audit.verify.stitch import RunResult, check_run, describe, stitch

__all__ = [
    "COLUMN_PATHS", "SEQ_MAX", "Anchor", "ChainFields", "ChainWalk", "Check", "CheckpointLine", "Checks",
    "ExportLine", "Failure", "Item", "Job", "JwksError", "KeyStatus", "Kind", "Link", "MalformedExport", "Neighbour",
    "Problem", "PublicKey", "RangeSource", "RecordVerification", "RunChecker", "RunResult", "StoredHead",
    "StoredRecord", "VerifyResult", "b64url_bytes", "check_record", "check_run", "describe", "export_records",
    "interleave", "load_keys", "out_of_place", "parse_time", "seq_ranges", "stitch", "verify_one", "verify_ranges",
    "verify_records", "worker_processes",
]
