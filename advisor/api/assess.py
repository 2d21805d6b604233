"""``POST /assess`` and ``GET /assessments/{id}``: the portal's calls."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Annotated, Any, cast

import anyio.to_thread
import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import ResponseHeader
from litestar.di import NamedDependency
from litestar.enums import MediaType as ContentType
from litestar.openapi.spec import Example, Operation, Reference, RequestBody
from litestar.openapi.spec import OpenAPIMediaType as MediaType
from litestar.params import HeaderParameter

from advisor.api.access import ASSESS, READ_ASSESSMENTS, allow, principal_of
from advisor.api.idempotency import (
    REPLAYED_HEADER,
    IdempotencyKey,
    in_flight,
    key_reused,
    normalise_key,
    raw_response,
)
from advisor.api.openapi_docs import ASSESS_RESPONSES, INTEGRITY_RESPONSES, PROBLEM_RESPONSES
from advisor.api.problems import invalid_field, problem, split_path
from advisor.api.stored import readable
from advisor.api.strict_json import BODY_OPT, PathText, exact_integers
from advisor.application.record_assessment import AssessmentRecorder, KeyInFlight, KeyReused, RecordAssessment
from advisor.audit.record import Assessment, Receipt
from advisor.domain.profile import Profile
from advisor.domain.review import Status, status_of
from advisor.jsonlog import request_id_var
from advisor.settings import Settings
from advisor.store.errors import StoreUnavailable
from advisor.store.repository import Repository

log = logging.getLogger(__name__)
_profile_decoder = msgspec.json.Decoder(Profile)
EXAMPLE_PROFILE = {
    "organization": {"name": "Acme Health"},
    "workload": {"daily_tokens": 100000, "volume_certainty": "validation"},
    "team": {"ml_infra_engineers": 0},
}


@dataclass
class AssessOperation(Operation):
    """Documents the body as a Profile: the handler decodes the raw bytes itself, strictly."""

    def __post_init__(self) -> None:
        self.request_body = RequestBody(
            required=True,
            description="The organisation profile. Unknown fields, wrong types and out-of-range values are "
            "rejected with 400 naming the field.",
            content={"application/json": MediaType(
                schema=Reference("#/components/schemas/Profile"),
                examples={"validation-stage": Example(summary="A validation-stage start-up", value=EXAMPLE_PROFILE)},
            )},
        )


def decode_profile(request: Request[Any, Any, Any], body: bytes) -> Profile:
    """Strict decoding: no type coercion ("100" is not 100), and the error names the field path."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/json":
        raise problem(415, "unsupported-media-type", "Unsupported media type",
                      "POST /assess takes a JSON body (Content-Type: application/json)")
    try:
        try:
            return _profile_decoder.decode(body)
        except msgspec.ValidationError as exc:
            if "got `float`" not in str(exc):
                raise
            # 1000.0 is the integer 1000 in JSON (and JSON Schema): decode again with exact floats as ints.
            return msgspec.convert(exact_integers(msgspec.json.decode(body)), Profile, strict=True)
    except msgspec.ValidationError as exc:
        message, path = split_path(str(exc))
        raise invalid_field(message, path) from None
    except msgspec.DecodeError as exc:
        raise problem(400, "malformed-json", "Malformed JSON", str(exc)) from None
    except UnicodeDecodeError as exc:
        raise problem(400, "malformed-json", "Malformed JSON", f"The body is not valid UTF-8: {exc.reason}") from None


PreferHeader = Annotated[str | None, HeaderParameter(
    name="Prefer", required=False, max_length=200,
    description="`return=minimal` (RFC 7240): the 201 carries only id, decision, strength, summary and the "
    "receipt; the whole assessment is at `Location`. Answered with `Preference-Applied: return=minimal`.")]


class MinimalAssessment(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The 201 body under ``Prefer: return=minimal`` (these members only: documented apart from a whole one)."""

    id: Annotated[str, msgspec.Meta(description="The assessment's id (its URL is in Location)")]
    decision: Annotated[str, msgspec.Meta(description="managed, self_hosted or hybrid")]
    strength: Annotated[str, msgspec.Meta(description="mandatory, clear or marginal")]
    summary: Annotated[str, msgspec.Meta(description="The recommendation in one paragraph")]
    receipt: Annotated[Receipt, msgspec.Meta(description="The same receipt as the whole assessment's")]


class _MinimalOf(msgspec.Struct, frozen=True, kw_only=True):
    """``MinimalAssessment``'s members picked out of a whole assessment."""

    id: str
    decision: str
    strength: str
    summary: str
    receipt: Receipt


_minimal = msgspec.json.Decoder(_MinimalOf)


def wants_minimal(request: Request[Any, Any, Any]) -> bool:
    """``Prefer: return=minimal`` among the (comma-separated) preferences, parameters ignored."""
    for value in request.headers.getall("prefer", []):
        for preference in value.split(","):
            if preference.split(";")[0].strip().lower().replace(" ", "") == "return=minimal":
                return True
    return False


def with_status(body: bytes, status: str) -> bytes:
    """The served assessment with its current status appended (outside the signed bytes: it changes)."""
    return b'%s,"status":"%s"}' % (body[:-1], status.encode("ascii"))


async def served(repository: Repository, record_id: str, minimal: bool, accepts_required: int,
                 appended: bytes | None = None) -> tuple[bytes, dict[str, str]]:
    """A record's body as served, whole or minimal: ``appended`` (a record just appended, built from what the
    writer wrote: no read, and no review or reassessment can name it yet), else read back and checked."""
    body = appended
    if body is None:
        body = await anyio.to_thread.run_sync(repository.get, record_id)
        if body is None:  # pragma: no cover - the record committed before this is asked
            raise StoreUnavailable(f"record {record_id} is not readable yet")
    if not minimal:
        if appended is not None:
            status: Status = status_of([], accepts_required, False)
        else:
            status = (await anyio.to_thread.run_sync(repository.statuses, [record_id], accepts_required))[record_id]
        return with_status(body, status), {}
    return msgspec.json.encode(_minimal.decode(body)), {"Preference-Applied": "return=minimal"}


Recorder = AssessmentRecorder[Any]
"""The record-assessment use case as wired (its evaluation type is the adapters' business)."""


class AssessController(Controller):
    tags = ["assessments"]

    @post(
        "/assess",
        status_code=201,
        summary="Assess an organisation profile",
        description="Fires the decision rules, prices every option, signs and stores the recommendation. "
        "201 is sent only after the record is durably committed.",
        # ``value`` only gives the header its schema (a string): OpenAPI requires one.
        response_headers=[ResponseHeader(name="Location", description="URL of the stored assessment",
                                         value="/assessments/{id}", documentation_only=True)],
        responses=ASSESS_RESPONSES,
        operation_id="assess",
        operation_class=AssessOperation,
        opt={**allow(ASSESS), BODY_OPT: Profile},
    )
    async def assess(self, request: Request[Any, Any, Any], record_assessment: NamedDependency[Recorder],
                     repository: NamedDependency[Repository], settings: NamedDependency[Settings],
                     idempotency_key: IdempotencyKey = None,
                     prefer: PreferHeader = None) -> Response[Assessment | MinimalAssessment]:
        raw = await request.body()
        profile = decode_profile(request, raw)
        if settings.log_bodies:  # off by default: profiles describe an organisation
            log.info("profile received", extra={"body": raw.decode("utf-8", "replace")})
        key = None if idempotency_key is None else normalise_key(idempotency_key)
        record_id = str(uuid.uuid4())
        location = {"Location": f"/assessments/{record_id}"}
        command = RecordAssessment(profile=profile, requester=principal_of(request).client_id,  # signed in
                                   record_id=record_id, body=raw, idempotency_key=key, replay_headers=location,
                                   request_id=request_id_var.get())
        try:
            recorded = await record_assessment(command)
        except KeyReused:
            raise key_reused() from None
        except KeyInFlight as exc:
            raise in_flight(exc.retry_after) from None
        minimal = wants_minimal(request)  # ``prefer`` documents the header; every Prefer line is read
        body, headers = await served(repository, recorded.record_id, minimal, settings.review_accepts_required,
                                     recorded.body)
        if recorded.replayed:
            return raw_response(body, recorded.status, {**recorded.headers, **headers, REPLAYED_HEADER: "true"})
        # Bytes go out as they are; the annotation documents their schema.
        return Response(cast(Any, body), status_code=201, media_type=ContentType.JSON,
                        headers={**location, **headers})

    @get("/assessments/{record_id:str}", summary="Read a stored assessment",
         responses={**PROBLEM_RESPONSES, 500: INTEGRITY_RESPONSES[500]},
         description="Assessors read the assessments they created (another client's is 404, as if it did not "
         "exist); reviewers and auditors read all.",
         operation_id="getAssessment", sync_to_thread=True, opt=allow(READ_ASSESSMENTS))
    def read(self, record_id: PathText, request: Request[Any, Any, Any], repository: NamedDependency[Repository],
             settings: NamedDependency[Settings]) -> Response[Assessment]:
        found = readable(repository, principal_of(request), record_id)
        status = repository.statuses([record_id], settings.review_accepts_required)[record_id]
        return Response(cast(Any, with_status(found, status)), media_type=ContentType.JSON)
