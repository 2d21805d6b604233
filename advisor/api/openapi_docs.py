"""Shared OpenAPI declarations: the problem+json responses every route can give."""

from __future__ import annotations

from litestar.openapi.datastructures import ResponseSpec

from advisor.api.problems import Problem


def _problem(description: str) -> ResponseSpec:
    # No generated examples: they are random (a different document on every generation) and say nothing.
    return ResponseSpec(data_container=Problem, description=description, media_type="application/problem+json",
                        generate_examples=False)


# Every authenticated route can answer these (advisor.api.access).
AUTH_RESPONSES: dict[int, ResponseSpec] = {
    401: _problem("Missing, malformed, unknown or revoked API key (`WWW-Authenticate: Bearer` says which)"),
    403: _problem("The client's role may not call this operation"),
    429: _problem("This client's rate limit is exhausted; retry after `Retry-After` seconds (see the RateLimit "
                  "headers)"),
}
PROBLEM_RESPONSES: dict[int, ResponseSpec] = {
    400: _problem("Malformed JSON, a duplicate field or an invalid field (the field path is named)"),
    404: _problem("No such resource"),
    413: _problem("Body larger than the documented limit"),
    415: _problem("Content type is not application/json"),
    422: _problem("The profile names something that does not exist"),
    503: _problem("Storage unavailable; nothing was stored; retry after Retry-After"),
    **AUTH_RESPONSES,
}
ASSESS_RESPONSES: dict[int, ResponseSpec] = {
    **PROBLEM_RESPONSES,
    409: _problem("A request with the same Idempotency-Key is still in flight; retry after Retry-After"),
    422: _problem("The profile names something that does not exist, the Idempotency-Key was already used with "
                  "a different body, or the database refused the record's data (`record-refused`: do not retry)"),
}
READ_RESPONSES: dict[int, ResponseSpec] = {k: v for k, v in PROBLEM_RESPONSES.items()
                                           if k in (400, 404, 503, 401, 403, 429)}
# Routes that serve a stored record check it first (advisor.store.integrity).
INTEGRITY_RESPONSES: dict[int, ResponseSpec] = {
    **READ_RESPONSES,
    500: _problem("`record-integrity`: the stored record is not what the log committed to, so it is not served"),
}
