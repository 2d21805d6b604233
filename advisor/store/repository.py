"""Reads of the signed log: one record, filtered pages, the head, and the whole chain in order."""

from __future__ import annotations

import base64
import logging
import re
from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import Annotated, Any, Literal

import msgspec
from sqlalchemy import Connection, Engine, Row, bindparam, func, literal, select

from advisor.audit.integrity import listed_failure
from advisor.audit.record import ASSESSMENT, REVIEW, Receipt, StoredPayload, assessment_json, parse_review
from advisor.domain.review import VERDICTS, Review, Status, Verdict, status_of
from advisor.metrics import INTEGRITY_FAILURES
from advisor.store.integrity import Proven, check_row, with_leaf
from advisor.store.tables import chain_head, records

log = logging.getLogger(__name__)
_payload_decoder = msgspec.json.Decoder(StoredPayload)


class ListFilter(msgspec.Struct, frozen=True, kw_only=True):
    organization: str | None = None  # a case-insensitive prefix of the organisation's name
    q: str | None = None  # a case-insensitive substring of the organisation's name
    decision: str | None = None
    strength: str | None = None
    requester: str | None = None
    rules_digest: str | None = None
    created_from: str | None = None  # inclusive, RFC 3339
    created_to: str | None = None  # exclusive


class Summary(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One stored assessment in a listing (the full record is at /assessments/{id}).

    A record whose stored bytes or columns fail their check is listed as ``integrity: failed`` with
    its id, its seq and why, and no values (they may be altered): those fields are then null."""

    id: Annotated[str, msgspec.Meta(description="The assessment's id")]
    seq: Annotated[int, msgspec.Meta(description="Its position in the log")]
    integrity: Annotated[Literal["ok", "failed"], msgspec.Meta(
        description="failed: the stored record is not what the log committed to; its values are not shown")]
    created_at: Annotated[str | None, msgspec.Meta(
        description="When it was appended (RFC 3339, UTC); null when integrity is failed")]
    requester: Annotated[str | None, msgspec.Meta(
        description="The client id that created it; null when integrity is failed")]
    organization: Annotated[str | None, msgspec.Meta(
        description="The profile's organisation name; null when integrity is failed")]
    decision: Annotated[str | None, msgspec.Meta(
        description="managed, self_hosted or hybrid; null when integrity is failed")]
    strength: Annotated[str | None, msgspec.Meta(
        description="mandatory, clear or marginal; null when integrity is failed")]
    rules_digest: Annotated[str | None, msgspec.Meta(
        description="Digest of the rules that decided it; null when integrity is failed")]
    catalog_id: Annotated[str | None, msgspec.Meta(
        description="The pricing catalog used; null when integrity is failed")]
    hash: Annotated[str | None, msgspec.Meta(
        description="The record's hash in the log; null when integrity is failed")]
    integrity_problem: Annotated[str | None, msgspec.Meta(
        description="Why the record failed its check (absent when integrity is ok)")] = None
    monthly_usd: Annotated[Decimal | None, msgspec.Meta(description=(
        "The chosen option's monthly TCO in USD, a decimal string (absent when integrity is failed)"))] = None
    headline: Annotated[str | None, msgspec.Meta(description=(
        "The summary's first sentence: the decision, its strength and why (absent when integrity is failed)"))] = None
    industry: Annotated[str | None, msgspec.Meta(description=(
        "The profile's industry, free text (absent when the profile gives none or integrity is failed)"))] = None
    status: Annotated[Status | None, msgspec.Meta(description=(
        "proposed, accepted or rejected from its reviews, superseded once a reassessment supersedes it (not "
        "signed: it changes); absent when integrity is failed"))] = None


class _Cost(msgspec.Struct):
    monthly_usd: Decimal | None = None


class _Options(msgspec.Struct):
    managed: _Cost = msgspec.field(default_factory=_Cost)
    self_hosted: _Cost = msgspec.field(default_factory=_Cost)
    hybrid: _Cost = msgspec.field(default_factory=_Cost)


class _Organization(msgspec.Struct):
    industry: str | None = None


class _Profile(msgspec.Struct):
    organization: _Organization = msgspec.field(default_factory=_Organization)


class _Recommendation(msgspec.Struct):
    decision: str = ""
    summary: str = ""
    options: _Options = msgspec.field(default_factory=_Options)
    profile: _Profile = msgspec.field(default_factory=_Profile)


class _Board(msgspec.Struct):
    """What a listing shows a board beyond the columns; msgspec skips the rest of the payload."""

    recommendation: _Recommendation = msgspec.field(default_factory=_Recommendation)


_board = msgspec.json.Decoder(_Board)
# The first sentence ends at a full stop followed by a capital (the summary's next sentence), not at "e.g."
# or a decimal point.
_FIRST_SENTENCE = re.compile(r"^(.*?[.!?])\s+(?=[A-Z])", re.S)


def headline(summary: str) -> str:
    found = _FIRST_SENTENCE.match(summary)
    return found.group(1) if found else summary


def prefix_bound(prefix: str) -> str:
    """The least string above every string that starts with ``prefix`` (in code point order)."""
    return prefix + "\U0010ffff"


def like_prefix(prefix: str) -> str:
    r"""A LIKE pattern for "starts with ``prefix``", its wildcards escaped with ``\``."""
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def like_substring(text: str) -> str:
    return "%" + like_prefix(text)


def summary_of(row: Any) -> Summary:
    """A listed row checked (``payload`` and ``leaf`` are read with it, never shown)."""
    values = row._asdict()
    payload, leaf = values.pop("payload").encode("utf-8"), values.pop("leaf")
    reason = listed_failure(payload, values["hash"], None if leaf is None else bytes(leaf), values["seq"], values)
    if reason is None:
        r = _board.decode(payload).recommendation
        chosen: _Cost | None = getattr(r.options, r.decision, None)
        return Summary(integrity="ok", **values, monthly_usd=None if chosen is None else chosen.monthly_usd,
                       headline=headline(r.summary), industry=r.profile.organization.industry)
    log.error("record integrity: record %s (seq %s) listed as failed: %s", values["id"], values["seq"], reason)
    INTEGRITY_FAILURES.labels(kind="record-integrity").inc()
    return Summary(id=values["id"], seq=values["seq"], integrity="failed", created_at=None, requester=None,
                   organization=None, decision=None, strength=None, rules_digest=None, catalog_id=None, hash=None,
                   integrity_problem=reason)


def review_of(row: Any) -> Review:
    """A checked review row (``payload``, ``hash``) as served."""
    signed = parse_review(row.payload.encode("utf-8"))
    body = signed.review
    return Review(id=signed.id, assessment_id=body.assessment_id, assessment_hash=body.assessment_hash,
                  reviewer=signed.requester, verdict=body.verdict, comment=body.comment,
                  created_at=signed.created_at, seq=signed.seq, hash=str(row.hash))


def receipt_of(payload: StoredPayload, row: Any, proven: Proven) -> Receipt:
    """The compact receipt: the inclusion proof under the record's commit's signed tree head (and a record's own
    detached JWS, if it was written before per-commit signing)."""
    head, path = proven.head, proven.path
    return Receipt(seq=payload.seq, hash=str(row.hash), prev_hash=payload.prev_hash, key_id=payload.key_id,
                   log=payload.log, jws=None if row.jws is None else str(row.jws), leaf_index=payload.seq - 1,
                   tree_size=None if head is None else head.size,
                   inclusion_path=None if path is None else [base64.b64encode(h).decode("ascii") for h in path],
                   checkpoint=None if head is None else head.note)


def assessment_of(row: Any, proven: Proven) -> bytes:
    """A checked row with ``payload``, ``jws`` and ``hash`` columns, as served (201, GET, replays)."""
    payload = _payload_decoder.decode(row.payload.encode("utf-8"))
    return assessment_json(payload, bytes(payload.recommendation), receipt_of(payload, row, proven))


# Built once: a record with its leaf (and, for an assessor, only its own).
_RECORD = with_leaf(records.c.id, records.c.seq, records.c.payload, records.c.hash, records.c.jws).where(
    records.c.id == bindparam("id"), records.c.kind == ASSESSMENT)
_OWN_RECORD = _RECORD.where(records.c.requester == bindparam("requester"))


_LISTED = (records.c.id, records.c.seq, records.c.created_at, records.c.requester, records.c.organization,
           records.c.decision, records.c.strength, records.c.rules_digest, records.c.catalog_id, records.c.hash,
           records.c.payload)
# A prefix this many records share is common: its page is found walking the log, not sorting the index's matches.
PREFIX_COMMON = 5000


class Repository:
    def __init__(self, engine: Engine, prefix_common: int = PREFIX_COMMON) -> None:
        self.engine = engine
        self.prefix_common = prefix_common

    def get(self, record_id: str, requester: str | None = None) -> bytes | None:
        """One record as served (JSON); with ``requester`` set, only if that client created it.

        Checked against the Merkle tree first: ``RecordIntegrityError`` rather than altered bytes.
        """
        with self.engine.connect() as conn:
            found = self._checked(conn, record_id, requester)
        return None if found is None else assessment_of(*found)

    def leaf(self, conn: Connection, record_id: str, requester: str | None = None) -> Proven | None:
        """A record's seq and leaf hash, after the same check as ``get``."""
        found = self._checked(conn, record_id, requester)
        return None if found is None else found[1]

    @staticmethod
    def _checked(conn: Connection, record_id: str, requester: str | None) -> tuple[Any, Proven] | None:
        query = _RECORD if requester is None else _OWN_RECORD
        row = conn.execute(query, {"id": record_id, "requester": requester}).first()
        return None if row is None else (row, check_row(conn, row))

    def page(self, where: ListFilter, before_seq: int | None, limit: int) -> list[Summary]:
        """Newest first; the cursor is the last seq seen, so concurrent inserts never shift a page."""
        c = records.c
        conditions: list[Any] = [column == value for column, value in (
            (c.decision, where.decision), (c.strength, where.strength), (c.requester, where.requester),
            (c.rules_digest, where.rules_digest)) if value is not None]
        conditions.append(c.kind == ASSESSMENT)
        lowered = func.lower(c.organization)
        with self.engine.connect() as conn:
            if where.q is not None:
                conditions.append(lowered.like(func.lower(literal(like_substring(where.q))), escape="\\"))
            # created_at never decreases along seq (the writer guarantees it and verify checks it), so
            # a time window is a seq range: two index seeks, then the primary key serves the page.
            if where.created_from is not None:
                first = conn.execute(select(c.seq).where(c.created_at >= where.created_from)
                                     .order_by(c.created_at, c.seq).limit(1)).scalar()
                if first is None:
                    return []
                conditions.append(c.seq >= first)
            if where.created_to is not None:
                last = conn.execute(select(c.seq).where(c.created_at < where.created_to)
                                    .order_by(c.created_at.desc(), c.seq.desc()).limit(1)).scalar()
                if last is None:
                    return []
                conditions.append(c.seq <= last)
            if before_seq is not None:
                conditions.append(c.seq < before_seq)
            if where.organization is not None:
                # The database's lower() on both sides, so the match is the index's (revision 0006).
                prefix = conn.execute(select(func.lower(literal(where.organization)))).scalar_one()
                if conn.dialect.name != "sqlite":
                    # PostgreSQL's collation may not sort a prefix's names together: LIKE, served by the index's
                    # text_pattern_ops; its planner weighs the index against the primary key from statistics.
                    conditions.append(lowered.like(like_prefix(prefix), escape="\\"))
                else:
                    return self._sqlite_prefix_page(conn, prefix, conditions, limit)
            query = with_leaf(*_LISTED).where(*conditions).order_by(c.seq.desc()).limit(limit)
            return [summary_of(row) for row in conn.execute(query)]

    def _sqlite_prefix_page(self, conn: Connection, prefix: str, conditions: list[Any], limit: int) -> list[Summary]:
        """A prefix page on SQLite, which compares bytes: the prefix is a range of the lowered name.

        SQLite has no statistics here to weigh the index against the primary key, and a wrong guess is costly
        either way: sorting every row of a common prefix (payload and all), or walking the whole log for a rare
        one. So it is asked first how common the prefix is (an index-only count, stopped at ``prefix_common``):
        a rare prefix's seqs are read from the index and sorted (integers only), then their rows fetched; a
        common prefix is found walking the log newest first, where matches come soon.
        """
        c = records.c
        lowered = func.lower(c.organization)
        in_range = (lowered >= prefix, lowered < prefix_bound(prefix))
        seen = conn.execute(select(func.count()).select_from(
            select(c.seq).where(*in_range).limit(self.prefix_common).subquery())).scalar_one()
        if seen < self.prefix_common:
            seqs = list(conn.execute(select(c.seq).where(*in_range, *conditions)
                                     .order_by(c.seq.desc()).limit(limit)).scalars())
            if not seqs:
                return []
            query = with_leaf(*_LISTED).where(c.seq.in_(seqs)).order_by(c.seq.desc())
        else:
            unindexed = func.lower(c.organization.concat(""))  # not the index's expression: walk by seq
            query = with_leaf(*_LISTED).where(unindexed >= prefix, unindexed < prefix_bound(prefix),
                                              *conditions).order_by(c.seq.desc()).limit(limit)
        return [summary_of(row) for row in conn.execute(query)]

    def reviews(self, assessment_id: str) -> list[Review]:
        """The reviews of one assessment in log order, each checked like any served record."""
        c = records.c
        query = with_leaf(c.id, c.seq, c.payload, c.hash).where(c.kind == REVIEW, c.subject == assessment_id)
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(c.seq)).all()
            for row in rows:
                check_row(conn, row)
        return [review_of(row) for row in rows]

    def statuses(self, ids: Sequence[str], accepts_required: int) -> dict[str, Status]:
        """Each assessment's status from its reviews' verdict columns and the reassessments that supersede it.

        The columns are checked copies of the signed payloads (the listing's check, the verifier's); a
        review read for display (``reviews``) is checked against the tree itself.
        """
        if not ids:
            return {}
        c = records.c
        verdicts: dict[str, list[tuple[str, Verdict]]] = {i: [] for i in ids}
        superseded: set[str] = set()
        with self.engine.connect() as conn:
            for row in conn.execute(select(c.kind, c.subject, c.requester, c.decision)
                                    .where(c.subject.in_(list(ids))).order_by(c.seq)):
                if row.kind == REVIEW and row.decision in VERDICTS:
                    verdicts[row.subject].append((row.requester, row.decision))
                elif row.kind == ASSESSMENT:
                    superseded.add(row.subject)
        return {i: status_of(verdicts[i], accepts_required, i in superseded) for i in ids}

    def head(self) -> tuple[int, str]:
        with self.engine.connect() as conn:
            row = conn.execute(select(chain_head.c.seq, chain_head.c.hash).where(chain_head.c.id == 1)).one()
        return int(row.seq), str(row.hash)

    def count(self) -> int:
        from sqlalchemy import func

        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(records)).scalar_one())

    def iter_rows(self, batch: int = 2000) -> Iterator[Row[Any]]:
        """Every record in seq order, in bounded memory (keyset batches)."""
        last = 0
        while True:
            with self.engine.connect() as conn:
                rows = conn.execute(select(records).where(records.c.seq > last)
                                    .order_by(records.c.seq).limit(batch)).all()
            if not rows:
                return
            yield from rows
            last = rows[-1].seq
