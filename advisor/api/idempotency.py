"""``Idempotency-Key`` on ``POST /assess``: replay the first 201, refuse a different body or a retry in flight.

Semantics (IETF draft-ietf-httpapi-idempotency-key-header; Stripe's behaviour):

* the key is scoped to the authenticated client and kept ``ADVISOR_IDEMPOTENCY_TTL_HOURS`` (default 24 h);
* same key, same body (byte for byte, compared by SHA-256): the original 201 — same id, ``Location`` and
  assessment — is sent again with ``Idempotent-Replayed: true``; nothing new is stored. The body is
  rebuilt from the stored record (checked like every read; no copy of the response is kept), so its
  receipt is against the newest signed checkpoint;
* same key, different body: 422 ``idempotency-key-reused``;
* same key while the first request is still running (in any process or replica): 409
  ``idempotency-key-in-flight`` with ``Retry-After``;
* a request that fails (4xx/5xx) keeps nothing: the key can be used again.

The claim, replay and release are the use case's (``application.record_assessment``); this module
holds their HTTP side: the header, its normalisation, the problems and the raw replay response.
"""

from __future__ import annotations

from typing import Annotated, Any, cast

from litestar import Response
from litestar.params import HeaderParameter

from advisor.api.problems import problem

IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"

IdempotencyKey = Annotated[str | None, HeaderParameter(
    name=IDEMPOTENCY_HEADER, required=False, min_length=1, max_length=255,
    # What normalise_key accepts: printable ASCII without `"` or `\`, bare or in one pair of double quotes.
    pattern=r'^(?:[\x21\x23-\x5b\x5d-\x7e]+|"[\x21\x23-\x5b\x5d-\x7e]+")$',
    description="Makes the request safe to retry: a unique value per request (a UUID), 1-255 printable ASCII "
    "characters other than `\"` and `\\`, optionally in double quotes (a structured-field string). Scoped to "
    "your client and kept for at least 24 hours. A retry with the same key and body replays the original 201 with "
    "`Idempotent-Replayed: true`; the same key with another body is 422; while the first is still running, 409.",
)]


def normalise_key(raw: str) -> str:
    """Accept both ``abc`` and the structured-field string ``"abc"``."""
    if len(raw) >= 2 and raw[0] == raw[-1] == '"':
        raw = raw[1:-1]
    if not raw or '"' in raw or "\\" in raw:
        raise problem(400, "invalid-field", "Invalid request field",
                      f"`{IDEMPOTENCY_HEADER}` must be 1-255 printable characters, at most quoted once",
                      field=IDEMPOTENCY_HEADER)
    return raw


def raw_response(body: bytes, status: int, headers: dict[str, str]) -> Response[Any]:
    # bytes content is sent as-is: the replay is byte-for-byte the original response.
    return Response(content=cast(Any, body), status_code=status, headers=headers, media_type="application/json")


def key_reused() -> Exception:
    return problem(422, "idempotency-key-reused", "Idempotency key reused",
                   f"This `{IDEMPOTENCY_HEADER}` was already used with a different request body",
                   field=IDEMPOTENCY_HEADER)


def in_flight(retry_after: int) -> Exception:
    return problem(409, "idempotency-key-in-flight", "Request with this key in flight",
                   f"A request with this `{IDEMPOTENCY_HEADER}` is still being processed; retry after "
                   f"{retry_after} s to get its result", field=IDEMPOTENCY_HEADER,
                   headers={"Retry-After": str(retry_after)})
