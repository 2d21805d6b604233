"""Shared OpenAPI declarations: the problem+json responses every route can give."""

from __future__ import annotations

from litestar.openapi.datastructures import ResponseSpec

from advisor.api.problems import Problem


def _problem(description: str) -> ResponseSpec:
    return ResponseSpec(data_container=Problem, description=description, media_type="application/problem+json")


PROBLEM_RESPONSES: dict[int, ResponseSpec] = {
    400: _problem("Malformed JSON or an invalid field (the field path is named)"),
    404: _problem("No such resource"),
    413: _problem("Body larger than the documented limit"),
    415: _problem("Content type is not application/json"),
    422: _problem("The profile names something that does not exist"),
    503: _problem("Storage unavailable; nothing was stored; retry after Retry-After"),
}
READ_RESPONSES: dict[int, ResponseSpec] = {k: v for k, v in PROBLEM_RESPONSES.items() if k in (400, 404, 503)}
