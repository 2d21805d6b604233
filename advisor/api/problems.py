"""Every error is RFC 9457 problem+json with a stable ``type``; no stack trace ever leaves.

Validation messages from msgspec end in "- at `$.a.b`": that path becomes the ``field`` the
client is told about.
"""

from __future__ import annotations

import logging
import re
from http import HTTPStatus
from typing import Annotated, Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.plugins.problem_details import (
    ProblemDetailsConfig,
    ProblemDetailsException,
    ProblemDetailsPlugin,
)

from advisor.application.evaluate import ProfileError
from advisor.jsonlog import error_fields
from advisor.metrics import INTEGRITY_FAILURES
from advisor.store.database import SQL_ERRORS, error_name, is_outage
from advisor.store.errors import CommitUnknown, RecordIntegrityError, RecordRefused, StoreUnavailable
from advisor.workers.evaluators import EvaluatorUnavailable

log = logging.getLogger(__name__)
PROBLEM_BASE = "https://llm-hosting-advisor.dev/problems/"
_PATH = re.compile(r"^(?P<message>.*?)(?: - at (?:`key` in )?`\$(?P<path>[^`]*)`)?$", re.S)


class FieldError(msgspec.Struct, frozen=True, kw_only=True):
    """One invalid field of a request, in a problem's ``errors`` list."""

    field: Annotated[str, msgspec.Meta(
        description="The field's path, e.g. `workload.daily_tokens` or `compliance.regimes[0]`")]
    detail: Annotated[str, msgspec.Meta(description="What is wrong with it")]


class Problem(msgspec.Struct, kw_only=True):
    """RFC 9457 problem details, as this service sends them (documented in OpenAPI)."""

    type: Annotated[str, msgspec.Meta(
        description="A stable URI naming the kind of problem (below https://llm-hosting-advisor.dev/problems/)")]
    title: Annotated[str, msgspec.Meta(
        description="A short summary of the kind, the same for every problem of that type")]
    status: Annotated[int, msgspec.Meta(description="The HTTP status code")]
    detail: Annotated[str, msgspec.Meta(description="What went wrong with this request")]
    field: Annotated[str | None, msgspec.Meta(
        description="The field, header or query parameter at fault, where there is one (the first, when `errors` "
                    "lists several)")] = None
    instance: Annotated[str | None, msgspec.Meta(description="Reserved by RFC 9457; not used")] = None
    errors: Annotated[list[FieldError] | None, msgspec.Meta(
        description="Every invalid field of the request at once (an RFC 9457 extension member)")] = None


def problem(status: int, slug: str, title: str, detail: str, *, field: str | None = None,
            headers: dict[str, str] | None = None, errors: list[FieldError] | None = None
            ) -> ProblemDetailsException:
    extra: dict[str, Any] = {}
    if field is not None:
        extra["field"] = field
    if errors:  # RFC 9457 extension member: every invalid field at once, not only the first
        extra["errors"] = [{"field": e.field, "detail": e.detail} for e in errors]
    return ProblemDetailsException(status_code=status, type_=PROBLEM_BASE + slug, title=title, detail=detail,
                                   extra=extra or None, headers=headers)


def split_path(message: str) -> tuple[str, str | None]:
    match = _PATH.match(message.strip())
    if match is None:  # pragma: no cover - the pattern matches any string
        return message, None
    path = match.group("path")
    return match.group("message"), (path.lstrip(".") or "$") if path is not None else None


def _field_of(message: str, path: str | None) -> str | None:
    """msgspec names a missing or unknown field only inside its message: append it to the path."""
    named = re.search(r"(?:missing required field|unknown field) `([^`]+)`", message)
    if named is None:
        return path
    return f"{path}.{named.group(1)}" if path and path != "$" else named.group(1)


def invalid_field(message: str, path: str | None) -> ProblemDetailsException:
    field = _field_of(message, path)
    where = f" at `{field}`" if field else ""
    return problem(400, "invalid-field", "Invalid request field", f"{message}{where}", field=field)


def from_validation(exc: ValidationException) -> ProblemDetailsException:
    """Litestar's own validation (query and path parameters) reports the field as ``key``."""
    extra = exc.extra if isinstance(exc.extra, list) else []
    first = extra[0] if extra and isinstance(extra[0], dict) else {}
    message = str(first.get("message", exc.detail))
    key = first.get("key")
    if key and first.get("source") == "header":  # name the header as sent, not the handler's parameter
        key = str(key).replace("_", "-").title()
    if "malformed" in message.lower():
        return problem(400, "malformed-json", "Malformed JSON", message)
    return invalid_field(message, str(key) if key else None)


def from_profile_error(exc: ProfileError) -> ProblemDetailsException:
    if exc.status == 400:
        return invalid_field(exc.message, exc.field)
    return problem(422, "unknown-reference", "Profile names something unknown, out of range or unpriceable",
                   f"{exc.message} at `{exc.field}`",
                   field=exc.field)


RETRY_AFTER = {"Retry-After": "2"}


def from_store_unavailable(exc: StoreUnavailable) -> ProblemDetailsException:
    if isinstance(exc, CommitUnknown):
        return problem(503, "store-unavailable", "Storage unavailable",
                       "The database connection failed while committing, so the recommendation may or may not "
                       "be stored. Retry with the same Idempotency-Key: the retry replays it if it was stored.",
                       headers=RETRY_AFTER)
    return problem(503, "store-unavailable", "Storage unavailable",
                   "The recommendation could not be stored; nothing was saved. Retry later.", headers=RETRY_AFTER)


def from_record_refused(_exc: RecordRefused) -> ProblemDetailsException:
    return problem(422, "record-refused", "Record refused",
                   "The database refused this recommendation's data; nothing was stored, and the same request "
                   "would be refused again.")


def from_evaluator_unavailable(exc: EvaluatorUnavailable) -> ProblemDetailsException:
    log.warning("evaluator unavailable: %s", exc)
    return problem(503, "evaluator-unavailable", "Evaluator unavailable",
                   "The profile could not be evaluated right now; nothing was saved. Retry later.",
                   headers=RETRY_AFTER)


def database_unavailable() -> ProblemDetailsException:
    return problem(503, "database-unavailable", "Database unavailable",
                   "The database cannot be reached right now. Retry later.", headers=RETRY_AFTER)


def from_database_error(exc: Exception) -> ProblemDetailsException:
    """A refused, lost or timed-out database connection (or no pooled connection free in time) is an outage
    (503, retry), not a bug (500)."""
    if is_outage(exc):
        log.warning("database unavailable: %s", error_name(exc))
        return database_unavailable()
    log.error("database error: %s", error_name(exc), extra=error_fields(exc))
    return problem(500, "internal-error", "Internal error", "The server could not complete the request.")


def from_record_integrity(exc: RecordIntegrityError) -> ProblemDetailsException:
    """A stored record that fails its check is never served: the problem names it, and an operator is alerted."""
    log.error("record integrity: %s", exc, extra={"record_id": exc.record_id, "seq": exc.seq})
    INTEGRITY_FAILURES.labels(kind="record-integrity").inc()
    return problem(500, "record-integrity", "Record integrity check failed",
                   f"Stored record {exc.record_id} (seq {exc.seq}) is not what the log committed to, so it is not "
                   f"served: {exc.reason}. An auditor can run `advisor verify`.")


_SLUGS = {400: "bad-request", 401: "unauthorized", 403: "forbidden", 404: "not-found", 405: "method-not-allowed",
          409: "conflict", 413: "body-too-large", 415: "unsupported-media-type", 422: "unprocessable",
          429: "rate-limited", 503: "unavailable"}


def from_http(exc: HTTPException) -> ProblemDetailsException:
    status = exc.status_code
    slug = _SLUGS.get(status, "error" if status < 500 else "internal-error")
    detail = str(exc.detail) if status < 500 else "The server could not complete the request."
    title = HTTPStatus(status).phrase if status < 500 else "Internal error"  # stable per type (RFC 9457)
    return problem(status, slug, title, detail, headers=exc.headers)


def internal_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    services = getattr(request.app.state, "services", None)
    bodies = bool(services is not None and services.settings.log_bodies)
    log.error("unhandled error on %s %s: %s", request.method, request.url.path, type(exc).__name__,
              extra=error_fields(exc, with_message=bodies))  # the message may quote the request's data
    return problem(500, "internal-error", "Internal error", "The server could not complete the request.") \
        .to_response(request)


def problem_plugin() -> ProblemDetailsPlugin:
    return ProblemDetailsPlugin(ProblemDetailsConfig(
        enable_for_all_http_exceptions=True,
        exception_to_problem_detail_map={
            ValidationException: from_validation,
            ProfileError: from_profile_error,
            StoreUnavailable: from_store_unavailable,
            RecordRefused: from_record_refused,
            EvaluatorUnavailable: from_evaluator_unavailable,
            **dict.fromkeys(SQL_ERRORS, from_database_error),
            RecordIntegrityError: from_record_integrity,
            HTTPException: from_http,
        },
    ))
