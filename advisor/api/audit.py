"""The audit trail over HTTP: list records, verify one record, and a signed checkpoint of the log."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.openapi.spec import OpenAPIFormat
from litestar.params import FromQuery, QueryParameter

from advisor.api.access import AUDIT, READ_ASSESSMENTS, allow, principal_of
from advisor.api.openapi_docs import AUTH_RESPONSES, READ_RESPONSES
from advisor.api.openapi_schema import STORABLE
from advisor.api.problems import invalid_field, problem
from advisor.api.rfc3339 import parse_rfc3339
from advisor.api.stored import reader_scope
from advisor.api.strict_json import PathText, QueryText
from advisor.audit import formats
from advisor.audit.checkpoint import Checkpoint
from advisor.audit.verify import RecordVerification
from advisor.metrics import INTEGRITY_FAILURES
from advisor.settings import Settings
from advisor.store.database import Database
from advisor.store.errors import SigningUnavailable
from advisor.store.keyring import KeyRing
from advisor.store.repository import ListFilter, Repository, Summary
from advisor.store.tree import current_checkpoint
from advisor.store.verification import verify_stored_record

MAX_PAGE = 200


class AssessmentPage(msgspec.Struct, frozen=True, kw_only=True):
    items: Annotated[list[Summary], msgspec.Meta(description="This page's assessments, newest first")]
    # pass as ``cursor`` for the next (older) page; null on the last page
    next_cursor: Annotated[str | None, msgspec.Meta(
        description="Pass as `cursor` to get the next (older) page; null on the last page")]


def requester_scope(request: Request[Any, Any, Any]) -> str | None:
    """The one requester this caller may list, or None for every record.

    Authentication narrows this (an assessor lists only its own records); the listing enforces
    whatever it returns, so nothing else needs to change.
    """
    return reader_scope(principal_of(request))


def scoped(where: ListFilter, scope: str | None) -> ListFilter:
    if scope is None:
        return where
    if where.requester not in (None, scope):
        raise problem(403, "forbidden", "Forbidden", "This client may list only the records it created",
                      field="requester")
    return msgspec.structs.replace(where, requester=scope)


def stored_time(value: str | None, field: str) -> str | None:
    """An RFC 3339 bound in the stored form, so the text comparison in SQL is a time comparison."""
    if value is None:
        return None
    try:
        moment = parse_rfc3339(value)
    except ValueError as exc:
        raise invalid_field(f"expected an RFC 3339 date-time with an offset: {exc}", field) from None
    return formats.stored_time(moment)


def parse_cursor(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    if not (cursor.isascii() and cursor.isdigit()) or len(cursor) > 18 or int(cursor) < 1:
        raise invalid_field("not a cursor this service issued", "cursor")
    return int(cursor)


# A status filter is applied to pages of the log (status is derived, not stored): at most this many rows are
# read per request; a page may then come back short, with a cursor to read on from.
STATUS_SCAN_ROWS = 5000


def assessment_page(repository: Repository, where: ListFilter, before: int | None, limit: int, status: str | None,
                    accepts_required: int) -> AssessmentPage:
    """A page of summaries with their status, newest first, optionally only those with ``status``."""
    found: list[Summary] = []
    scanned = 0
    while True:
        batch = repository.page(where, before, limit + 1)
        statuses = repository.statuses([s.id for s in batch if s.integrity == "ok"], accepts_required)
        for summary in batch:
            if summary.integrity == "ok":
                summary = msgspec.structs.replace(summary, status=statuses[summary.id])
            if status is None or summary.status == status:
                found.append(summary)
        scanned += len(batch)
        if len(found) > limit:
            return AssessmentPage(items=found[:limit], next_cursor=str(found[limit - 1].seq))
        if len(batch) <= limit:  # the end of the log
            return AssessmentPage(items=found, next_cursor=None)
        before = batch[-1].seq
        if scanned >= STATUS_SCAN_ROWS:
            return AssessmentPage(items=found, next_cursor=str(before))


def verify_record(db: Database, log_name: str, record_id: str) -> RecordVerification:
    """One record checked: signature, hash, canonical form, columns, key window, links to its neighbours."""
    result = verify_stored_record(db, record_id, log_name)
    if result is None:
        raise NotFoundException(f"no assessment {record_id}")
    for found in result.problems:
        INTEGRITY_FAILURES.labels(kind=found.kind).inc()
    return result


class AuditController(Controller):
    tags = ["audit"]

    @get("/assessments", summary="List stored assessments, newest first", tags=["assessments"],
         description="Filters combine with AND; a query parameter this operation does not take is 400. Each item "
         "carries the chosen option's monthly cost, the summary's first sentence and the industry. Pages are "
         "keyset-paginated: pass `next_cursor` as `cursor` to get the next older page; records appended meanwhile "
         "never shift a page.",
         responses=READ_RESPONSES, operation_id="listAssessments", sync_to_thread=True,
         opt=allow(READ_ASSESSMENTS))
    def list_assessments(
        self, request: Request[Any, Any, Any], repository: NamedDependency[Repository],
        settings: NamedDependency[Settings],
        organization: Annotated[str | None, QueryParameter(pattern=STORABLE, max_length=200, description=(
            "Organisations whose name starts with this, in any case (`acme` lists Acme Health and ACME Corp); "
            "case is folded as the database's lower() folds it: on SQLite only A-Z"))] = None,
        q: Annotated[str | None, QueryParameter(pattern=STORABLE, max_length=200, description=(
            "Organisations whose name contains this, in any case (reads every record it passes over: combine it "
            "with a narrower filter on a large log)"))] = None,
        decision: FromQuery[Literal["managed", "self_hosted", "hybrid"] | None] = None,
        strength: FromQuery[Literal["mandatory", "clear", "marginal"] | None] = None,
        requester: QueryText = None,
        rules_digest: QueryText = None,
        status: FromQuery[Literal["proposed", "accepted", "rejected", "superseded"] | None] = None,
        created_from: Annotated[str | None, QueryParameter(description="inclusive, RFC 3339",
                                                            format=OpenAPIFormat.DATE_TIME)] = None,
        created_to: Annotated[str | None, QueryParameter(description="exclusive, RFC 3339",
                                                          format=OpenAPIFormat.DATE_TIME)] = None,
        cursor: Annotated[str | None, QueryParameter(description="opaque: `next_cursor` of the previous page",
                                                      pattern=r"^[0-9]*[1-9][0-9]*$", max_length=18)] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=MAX_PAGE)] = 50,
    ) -> AssessmentPage:
        where = scoped(ListFilter(organization=organization, q=q, decision=decision, strength=strength,
                                  requester=requester, rules_digest=rules_digest,
                                  created_from=stored_time(created_from, "created_from"),
                                  created_to=stored_time(created_to, "created_to")),
                       requester_scope(request))
        return assessment_page(repository, where, parse_cursor(cursor), limit, status,
                               settings.review_accepts_required)

    @get("/assessments/{record_id:str}/verification", summary="Verify one stored assessment",
         description="Its signature, hash, canonical form, stored columns against the signed payload, the key's "
         "validity window, and its links to the records before and after it. Verifying the whole log (and "
         "against a checkpoint) is `advisor verify`.",
         responses=READ_RESPONSES, operation_id="verifyAssessment", sync_to_thread=True, opt=allow(AUDIT))
    def verification(self, record_id: PathText, db: NamedDependency[Database],
                     settings: NamedDependency[Settings]) -> RecordVerification:
        return verify_record(db, settings.log_name, record_id)

    @get("/audit/checkpoint", summary="A signed checkpoint of the log (C2SP tlog-checkpoint, signed note)",
         description="The log's size and RFC 9162 Merkle root now, as a C2SP signed note (Ed25519, key named by "
         "the origin). Keep it outside the database: `advisor verify --checkpoint` then proves no record up to "
         "that size was removed or changed, and `GET /audit/consistency` proves a later log extends it.",
         responses={503: READ_RESPONSES[503], **AUTH_RESPONSES}, operation_id="checkpoint", sync_to_thread=True,
         opt=allow(AUDIT))
    def checkpoint(self, db: NamedDependency[Database], keyring: NamedDependency[KeyRing],
                   settings: NamedDependency[Settings]) -> Checkpoint:
        try:
            return current_checkpoint(db, keyring, settings.log_name)
        except SigningUnavailable as exc:
            raise problem(503, "signing-unavailable", "Signing unavailable", str(exc),
                          headers={"Retry-After": "5"}) from None
