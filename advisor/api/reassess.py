"""``POST /assessments/{id}/reassess``: a stored profile under today's rules and catalog, with drift.

Reviewers and auditors may reassess every record, an assessor only its own (another client's is
404, as on ``GET /assessments/{id}``). A dry run stores nothing; otherwise the new record names the
one it re-evaluates in ``supersedes`` and is appended to the signed log like any assessment.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, cast

import anyio.to_thread
import msgspec
from litestar import Controller, Request, Response, post
from litestar.datastructures import ResponseHeader
from litestar.di import NamedDependency
from litestar.enums import MediaType as ContentType
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example
from litestar.params import QueryParameter

from advisor.api.access import READ_ASSESSMENTS, allow, principal_of
from advisor.api.idempotency import REPLAYED_HEADER, IdempotencyKey, in_flight, key_reused, normalise_key, raw_response
from advisor.api.openapi_docs import ASSESS_RESPONSES, INTEGRITY_RESPONSES
from advisor.api.stored import readable_assessment
from advisor.api.strict_json import PathText
from advisor.application.evaluate import Advisor
from advisor.application.reassess import Replayer, stored_assessment
from advisor.application.record_assessment import AssessmentRecorder, KeyInFlight, KeyReused, RecordAssessment
from advisor.audit.record import Assessment
from advisor.domain.drift import Drift
from advisor.domain.profile import Profile
from advisor.domain.recommendation import Recommendation
from advisor.jsonlog import request_id_var
from advisor.store.errors import StoreUnavailable
from advisor.store.repository import Repository
from advisor.workers.evaluators import Evaluated, evaluated

_encoder = msgspec.json.Encoder()


class Reassessment(msgspec.Struct, frozen=True, kw_only=True):
    """A stored reassessment (201): the new record, as ``GET /assessments/{id}`` serves it, and its drift."""

    assessment: Annotated[Assessment, msgspec.Meta(description=(
        "The new record; its `supersedes` names the record it re-evaluates"))]
    drift: Annotated[Drift, msgspec.Meta(description="What changed from the re-evaluated record, and why")]


class DryRunReassessment(msgspec.Struct, frozen=True, kw_only=True):
    """A reassessment not stored (``dry_run=true``, 200)."""

    recommendation: Annotated[Recommendation, msgspec.Meta(description=(
        "The recommendation the stored profile gets today (not stored, not signed)"))]
    drift: Annotated[Drift, msgspec.Meta(description="What changed from the stored record, and why")]


DryRun = Annotated[bool, QueryParameter(
    description="`true`: evaluate and answer 200 with the drift, store nothing", required=False,
    examples=[Example(summary="Only look", value=True)])]


class Superseding:
    """The record-assessment use case's evaluator for a reassessment: today's recommendation, naming the
    record it re-evaluates (in a worker thread: an evaluation is CPU work, not the event loop's)."""

    def __init__(self, advisor: Advisor, supersedes: str) -> None:
        self.advisor = advisor
        self.supersedes = supersedes

    async def evaluate(self, profile: Profile) -> Evaluated:
        today = await anyio.to_thread.run_sync(self.advisor.assess, profile)
        return evaluated(msgspec.structs.replace(today, supersedes=self.supersedes))


async def _render(repository: Repository, replayer: Replayer, before: Assessment, new_id: str) -> bytes:
    """The 201 body of a stored reassessment, rebuilt from the two records (for the 201 and its replays: a
    replay's record supersedes ``before`` too, as the key's fingerprint names the record reassessed)."""
    new_body = await anyio.to_thread.run_sync(repository.get, new_id)
    if new_body is None:  # pragma: no cover - the record committed before this is asked
        raise StoreUnavailable(f"record {new_id} is not readable yet")
    new = stored_assessment(new_body)
    assert new.supersedes == before.id
    drift = await anyio.to_thread.run_sync(replayer.drift, before, new)
    return b'{"assessment":%s,"drift":%s}' % (new_body, _encoder.encode(drift))


class ReassessController(Controller):
    tags = ["assessments"]

    @post(
        "/assessments/{record_id:str}/reassess",
        status_code=201,
        summary="Re-evaluate a stored assessment under today's rules and catalog, with drift",
        description="Evaluates the stored profile under today's rules and pricing catalog. `dry_run=true` answers "
        "200 and stores nothing; otherwise 201 stores a new signed record whose `supersedes` names this one. Both "
        "give `drift`: decision and strength before and after, each option's monthly cost before and after with "
        "the change split into a price effect (old rules, new catalog) and a rule effect (the rest), and the "
        "rules that newly fire or stopped firing. Reviewers and auditors may reassess any record, an assessor "
        "its own (another client's is 404). `Idempotency-Key` works as on `POST /assess`.",
        response_headers=[ResponseHeader(name="Location", description="URL of the new assessment (201 only)",
                                         value="/assessments/{id}", documentation_only=True)],
        responses={**ASSESS_RESPONSES, 500: INTEGRITY_RESPONSES[500],
                   200: ResponseSpec(data_container=DryRunReassessment, generate_examples=False,
                                     description="Dry run: the recommendation and drift, nothing stored")},
        operation_id="reassess",
        opt=allow(READ_ASSESSMENTS),
    )
    async def reassess(self, record_id: PathText, request: Request[Any, Any, Any],
                       repository: NamedDependency[Repository], replayer: NamedDependency[Replayer],
                       advisor: NamedDependency[Advisor],
                       record_assessment: NamedDependency[AssessmentRecorder[Evaluated]],
                       dry_run: DryRun = False, idempotency_key: IdempotencyKey = None) -> Response[Reassessment]:
        principal = principal_of(request)
        before = await anyio.to_thread.run_sync(readable_assessment, repository, principal, record_id)
        if dry_run:
            replayed = await anyio.to_thread.run_sync(replayer.replay, before)
            again = msgspec.structs.replace(replayed.recommendation, supersedes=record_id)
            body = _encoder.encode(DryRunReassessment(recommendation=again, drift=replayed.drift))
            return Response(cast(Any, body), status_code=200, media_type=ContentType.JSON)
        new_id = str(uuid.uuid4())
        location = {"Location": f"/assessments/{new_id}"}
        # The fingerprint is the request itself: the same key for another record is a different request.
        command = RecordAssessment(profile=before.profile, requester=principal.client_id, record_id=new_id,
                                   body=f"POST /assessments/{record_id}/reassess".encode(),
                                   idempotency_key=None if idempotency_key is None else normalise_key(idempotency_key),
                                   replay_headers=location, request_id=request_id_var.get())
        try:
            recorded = await record_assessment.with_evaluator(Superseding(advisor, record_id))(command)
        except KeyReused:
            raise key_reused() from None
        except KeyInFlight as exc:
            raise in_flight(exc.retry_after) from None
        body = await _render(repository, replayer, before, recorded.record_id)
        if recorded.replayed:
            return raw_response(body, recorded.status, {**recorded.headers, REPLAYED_HEADER: "true"})
        return Response(cast(Any, body), status_code=201, media_type=ContentType.JSON, headers=location)
