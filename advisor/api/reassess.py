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
from litestar.enums import MediaType as ContentType
from litestar.exceptions import NotFoundException
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example
from litestar.params import QueryParameter

from advisor.api.deps import Services, ServicesDep
from advisor.api.idempotency import IdempotencyKey, assess_idempotently
from advisor.api.openapi_docs import ASSESS_RESPONSES, INTEGRITY_RESPONSES
from advisor.api.strict_json import PathText
from advisor.application.reassess import stored_assessment
from advisor.audit.record import Assessment, Columns, recommendation_bytes
from advisor.auth.middleware import READ_ASSESSMENTS, allow, principal_of
from advisor.domain.drift import Drift
from advisor.domain.recommendation import Recommendation
from advisor.jsonlog import request_id_var
from advisor.metrics import assessment_stored
from advisor.store.writer import Appended, Completion, Draft, StoreUnavailable

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


async def _stored(services: Services, record_id: str, requester: str | None) -> Assessment:
    body = await anyio.to_thread.run_sync(services.repository.get, record_id, requester)
    if body is None:
        raise NotFoundException(f"no assessment {record_id}")
    return stored_assessment(body)


async def _render(services: Services, new_id: str) -> tuple[bytes, dict[str, str]]:
    """The 201 body of a stored reassessment, rebuilt from the two records (for the 201 and its replays)."""
    new_body = await anyio.to_thread.run_sync(services.repository.get, new_id)
    if new_body is None:  # pragma: no cover - the record committed before this is asked
        raise StoreUnavailable(f"record {new_id} is not readable yet")
    new = stored_assessment(new_body)
    assert new.supersedes is not None
    before = await _stored(services, new.supersedes, None)
    drift = await anyio.to_thread.run_sync(services.replayer.drift, before, new)
    return b'{"assessment":%s,"drift":%s}' % (new_body, _encoder.encode(drift)), {}


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
    async def reassess(self, record_id: PathText, request: Request[Any, Any, Any], services: ServicesDep,
                       dry_run: DryRun = False, idempotency_key: IdempotencyKey = None) -> Response[Reassessment]:
        principal = principal_of(request)
        before = await _stored(services, record_id, None if principal.reads_all else principal.client_id)
        if dry_run:
            # In a worker thread: an evaluation (and the old rules' replay) is CPU work, not the event loop's.
            replayed = await anyio.to_thread.run_sync(services.replayer.replay, before)
            again = msgspec.structs.replace(replayed.recommendation, supersedes=record_id)
            body = _encoder.encode(DryRunReassessment(recommendation=again, drift=replayed.drift))
            return Response(cast(Any, body), status_code=200, media_type=ContentType.JSON)
        requester = principal.client_id

        async def append(new_id: str, completion: Completion | None = None) -> Appended:
            today = await anyio.to_thread.run_sync(services.advisor.assess, before.profile)
            again = msgspec.structs.replace(today, supersedes=record_id)
            appended = await services.writer.append(Draft(
                id=new_id, requester=requester, recommendation_raw=recommendation_bytes(again),
                columns=Columns.of(again), completion=completion, request_id=request_id_var.get()))
            assessment_stored(again.decision, appended.envelope.seq)
            return appended

        async def render(new_id: str) -> tuple[bytes, dict[str, str]]:
            return await _render(services, new_id)

        if idempotency_key is not None:
            # The fingerprint is the request itself: the same key for another record is a different request.
            fingerprint_body = f"POST /assessments/{record_id}/reassess".encode()
            return await assess_idempotently(services, requester, idempotency_key, fingerprint_body, append, render)
        new_id = str(uuid.uuid4())
        await append(new_id)
        body, headers = await render(new_id)
        return Response(cast(Any, body), status_code=201, media_type=ContentType.JSON,
                        headers={"Location": f"/assessments/{new_id}", **headers})
