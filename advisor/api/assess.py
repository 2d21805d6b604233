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
from litestar.enums import MediaType as ContentType
from litestar.exceptions import NotFoundException
from litestar.openapi.spec import Example, Operation, Reference, RequestBody
from litestar.openapi.spec import OpenAPIMediaType as MediaType
from litestar.params import HeaderParameter

from advisor.api.deps import Services, ServicesDep
from advisor.api.idempotency import IdempotencyKey, assess_idempotently
from advisor.api.openapi_docs import ASSESS_RESPONSES, INTEGRITY_RESPONSES, PROBLEM_RESPONSES
from advisor.api.problems import invalid_field, problem, split_path
from advisor.api.strict_json import BODY_OPT, PathText, exact_integers
from advisor.audit.record import Assessment, Receipt
from advisor.auth.middleware import ASSESS, READ_ASSESSMENTS, allow, principal_of
from advisor.domain.profile import Profile
from advisor.jsonlog import request_id_var
from advisor.metrics import assessment_stored
from advisor.store.writer import Appended, Completion, Draft, StoreUnavailable

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


async def served(services: Services, record_id: str, minimal: bool) -> tuple[bytes, dict[str, str]]:
    """A stored record's body as served (checked like every read), whole or minimal."""
    body = await anyio.to_thread.run_sync(services.repository.get, record_id)
    if body is None:  # pragma: no cover - the record committed before this is asked
        raise StoreUnavailable(f"record {record_id} is not readable yet")
    if not minimal:
        statuses = await anyio.to_thread.run_sync(services.repository.statuses, [record_id],
                                                  services.settings.review_accepts_required)
        return with_status(body, statuses[record_id]), {}
    return msgspec.json.encode(_minimal.decode(body)), {"Preference-Applied": "return=minimal"}


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
    async def assess(self, request: Request[Any, Any, Any], services: ServicesDep,
                     idempotency_key: IdempotencyKey = None,
                     prefer: PreferHeader = None) -> Response[Assessment | MinimalAssessment]:
        raw = await request.body()
        profile = decode_profile(request, raw)
        if services.settings.log_bodies:  # off by default: profiles describe an organisation
            log.info("profile received", extra={"body": raw.decode("utf-8", "replace")})
        requester = principal_of(request).client_id  # inside the signed record

        async def append(record_id: str, completion: Completion | None = None) -> Appended:
            evaluated = await services.evaluator.evaluate(profile)
            appended = await services.writer.append(Draft(id=record_id, requester=requester,
                                                          recommendation_raw=evaluated.raw, columns=evaluated.columns,
                                                          completion=completion, request_id=request_id_var.get()))
            assessment_stored(evaluated.columns.decision, appended.envelope.seq)
            return appended

        minimal = wants_minimal(request)  # ``prefer`` documents the header; every Prefer line is read

        async def render(record_id: str) -> tuple[bytes, dict[str, str]]:
            return await served(services, record_id, minimal)

        if idempotency_key is not None:
            return await assess_idempotently(services, requester, idempotency_key, raw, append, render)
        record_id = str(uuid.uuid4())
        await append(record_id)
        body, headers = await render(record_id)
        # Bytes go out as they are; the annotation documents their schema.
        return Response(cast(Any, body), status_code=201, media_type=ContentType.JSON,
                        headers={"Location": f"/assessments/{record_id}", **headers})

    @get("/assessments/{record_id:str}", summary="Read a stored assessment",
         responses={**PROBLEM_RESPONSES, 500: INTEGRITY_RESPONSES[500]},
         description="Assessors read the assessments they created (another client's is 404, as if it did not "
         "exist); reviewers and auditors read all.",
         operation_id="getAssessment", sync_to_thread=True, opt=allow(READ_ASSESSMENTS))
    def read(self, record_id: PathText, request: Request[Any, Any, Any],
             services: ServicesDep) -> Response[Assessment]:
        principal = principal_of(request)
        found = services.repository.get(record_id, None if principal.reads_all else principal.client_id)
        if found is None:
            raise NotFoundException(f"no assessment {record_id}")
        status = services.repository.statuses([record_id], services.settings.review_accepts_required)[record_id]
        return Response(cast(Any, with_status(found, status)), media_type=ContentType.JSON)
