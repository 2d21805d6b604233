"""Reviews and decision records: ``/assessments/{id}/reviews`` and ``/assessments/{id}/adr``.

A review is a signed record in the same log as the assessments (its own kind, chained, in the Merkle
tree, verified by ``advisor verify``); the assessment's status is derived from its reviews
(advisor.domain.review) and is never part of a signed payload.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import anyio.to_thread
import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import ResponseHeader
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.openapi.spec import Example
from litestar.params import Body, SkipValidation

from advisor.api.access import READ_ASSESSMENTS, allow, principal_of
from advisor.api.openapi_docs import INTEGRITY_RESPONSES, PROBLEM_RESPONSES
from advisor.api.problems import problem
from advisor.api.stored import readable, readable_assessment
from advisor.api.strict_json import PathText
from advisor.audit.record import review_bytes
from advisor.auth.clients import Principal, Role
from advisor.domain.review import Review, ReviewBody, ReviewRequest, Status
from advisor.jsonlog import request_id_var
from advisor.reports.adr import decision_record
from advisor.settings import Settings
from advisor.store.repository import Repository
from advisor.store.writer import Appender, Draft, ReviewColumns

REVIEW = frozenset({Role.REVIEWER})
ReviewBodyParam = Annotated[ReviewRequest, Body(
    media_type=RequestEncodingType.JSON, title="A verdict",
    description="The verdict and why; unknown fields, another verdict or a comment over 4000 characters get 400.",
    examples=[Example(summary="Accept", value={"verdict": "accept", "comment": "Costs and risks are as we see them."}),
              Example(summary="Ask for changes", value={"verdict": "request_changes",
                                                        "comment": "Price the BAA before we decide."}),
              Example(summary="Reject", value={"verdict": "reject", "comment": "Patient data may not leave the EU."})])]


class _Reviewed(msgspec.Struct):
    """What a review needs of the assessment it judges."""

    id: str
    requester: str
    receipt: _ReceiptHash


class _ReceiptHash(msgspec.Struct):
    hash: str


_reviewed = msgspec.json.Decoder(_Reviewed)
WriterDep = NamedDependency[SkipValidation[Appender]]
"""The writer (thread or process) reviews are appended with. ``Appender`` is a ``Protocol``, which the handler's
signature model cannot check an instance against: the wiring (``Services``) is what types it."""


class Reviews(msgspec.Struct, frozen=True, kw_only=True):
    """An assessment's reviews and the status they give it."""

    assessment_id: Annotated[str, msgspec.Meta(description="The assessment reviewed")]
    status: Annotated[Status, msgspec.Meta(description=(
        "proposed, accepted or rejected from the reviews; superseded once a reassessment supersedes it"))]
    accepts_required: Annotated[int, msgspec.Meta(description=(
        "How many distinct reviewers' latest verdict must be accept for `accepted` (ADVISOR_REVIEW_ACCEPTS_REQUIRED)"))]
    reviews: Annotated[list[Review], msgspec.Meta(
        description="Every review in log order (each reviewer's latest counts)")]


def reviews_of(repository: Repository, accepts_required: int, record_id: str) -> Reviews:
    """A record's reviews and the status they give it (the caller has checked the record is readable)."""
    status = repository.statuses([record_id], accepts_required)[record_id]
    return Reviews(assessment_id=record_id, status=status, accepts_required=accepts_required,
                   reviews=repository.reviews(record_id))


def adr_text(repository: Repository, accepts_required: int, principal: Principal, record_id: str) -> str:
    record = readable_assessment(repository, principal, record_id)
    reviews = reviews_of(repository, accepts_required, record_id)
    return decision_record(record, reviews.reviews, reviews.status, reviews.accepts_required)


async def record_review(repository: Repository, writer: Appender, reviewer: Principal, record_id: str,
                        verdict: ReviewRequest) -> Review:
    """Append a signed review of a readable assessment; the requester of an assessment may not review it."""
    reviewed = _reviewed.decode(await anyio.to_thread.run_sync(readable, repository, reviewer, record_id))
    if reviewed.requester == reviewer.client_id:
        raise problem(403, "own-assessment", "Forbidden", "The requester of an assessment may not review it")
    body = ReviewBody(assessment_id=record_id, assessment_hash=reviewed.receipt.hash, verdict=verdict.verdict,
                      comment=verdict.comment)
    appended = await writer.append(Draft(
        id=str(uuid.uuid4()), requester=reviewer.client_id, recommendation_raw=review_bytes(body), columns=None,
        review=ReviewColumns(subject=record_id, verdict=verdict.verdict), request_id=request_id_var.get()))
    e = appended.envelope
    return Review(id=e.id, assessment_id=record_id, assessment_hash=body.assessment_hash, reviewer=e.requester,
                  verdict=body.verdict, comment=body.comment, created_at=e.created_at, seq=e.seq, hash=appended.hash)


class ReviewsController(Controller):
    path = "/assessments/{record_id:str}"
    tags = ["reviews"]

    @post("/reviews", status_code=201, summary="Review an assessment (a signed record in the log)",
          description="Reviewers only, and not the assessment's requester. Appends a review record to the signed "
          "log (chained, in the Merkle tree, verified like any record); each reviewer's latest verdict counts "
          "towards the assessment's status.",
          operation_id="reviewAssessment", opt=allow(REVIEW),
          responses={**{k: v for k, v in PROBLEM_RESPONSES.items() if k in (400, 404, 413, 415, 503)},
                     **{k: v for k, v in PROBLEM_RESPONSES.items() if k in (401, 403, 429)},
                     500: INTEGRITY_RESPONSES[500]},
          response_headers=[ResponseHeader(name="Location", description="The assessment's reviews",
                                           value="/assessments/{id}/reviews", documentation_only=True)])
    async def review(self, record_id: PathText, data: ReviewBodyParam, request: Request[Any, Any, Any],
                     repository: NamedDependency[Repository], writer: WriterDep) -> Response[Review]:
        review = await record_review(repository, writer, principal_of(request), record_id, data)
        return Response(review, status_code=201, headers={"Location": f"/assessments/{record_id}/reviews"})

    @get("/reviews", summary="An assessment's reviews and its status", operation_id="listReviews",
         responses=INTEGRITY_RESPONSES, sync_to_thread=True, opt=allow(READ_ASSESSMENTS))
    def reviews(self, record_id: PathText, request: Request[Any, Any, Any], repository: NamedDependency[Repository],
                settings: NamedDependency[Settings]) -> Reviews:
        readable(repository, principal_of(request), record_id)
        return reviews_of(repository, settings.review_accepts_required, record_id)

    @get("/adr", summary="The assessment as a decision record (Markdown, MADR)", operation_id="getDecisionRecord",
         description="Context from the profile, the considered options with their costs and the findings that "
         "decided, the outcome with its strength, consequences and risks, status and reviews, and links to the "
         "signed record and its verification.",
         responses=INTEGRITY_RESPONSES, sync_to_thread=True, opt=allow(READ_ASSESSMENTS),
         media_type="text/markdown")
    def adr(self, record_id: PathText, request: Request[Any, Any, Any], repository: NamedDependency[Repository],
            settings: NamedDependency[Settings]) -> Response[str]:
        text = adr_text(repository, settings.review_accepts_required, principal_of(request), record_id)
        return Response(text, media_type="text/markdown",
                        headers={"Content-Disposition": f'inline; filename="adr-{record_id}.md"'})
