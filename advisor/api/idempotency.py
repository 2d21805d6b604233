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
"""

from __future__ import annotations

import contextlib
import hashlib
import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, cast

import anyio
import anyio.to_thread
from litestar import Response
from litestar.params import HeaderParameter

from advisor.api.deps import Services
from advisor.api.problems import problem
from advisor.store.errors import LeaseLost
from advisor.store.idempotency import Claimed, IdempotencyStore, InFlight, Mismatch, Replay
from advisor.store.writer import Appended, Completion

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


def store_for(services: Services) -> IdempotencyStore:
    return IdempotencyStore(services.engine, services.writer.sqlite, services.settings.idempotency_ttl_hours,
                            lease_seconds=services.settings.idempotency_lease_seconds)


def _raw_response(body: bytes, status: int, headers: dict[str, str]) -> Response[Any]:
    # bytes content is sent as-is: the replay is byte-for-byte the original response.
    return Response(content=cast(Any, body), status_code=status, headers=headers, media_type="application/json")


async def assess_idempotently(services: Services, client_id: str, raw_key: str, body: bytes,
                              produce: Callable[[str, Completion], Awaitable[Appended]],
                              render: Callable[[str], Awaitable[tuple[bytes, dict[str, str]]]]) -> Response[Any]:
    """Run ``produce(record_id, completion)`` at most once per (client, key); replay it otherwise.

    ``render(record_id)`` gives the body (and extra headers) of a record, for the 201 and for replays.
    """
    key = normalise_key(raw_key)
    store = store_for(services)
    fingerprint = hashlib.sha256(body).hexdigest()
    claim = await anyio.to_thread.run_sync(store.claim, client_id, key, fingerprint)
    if isinstance(claim, Replay):
        replayed, extra = await render(claim.record_id)
        return _raw_response(replayed, claim.status, {**claim.headers, **extra, REPLAYED_HEADER: "true"})
    if isinstance(claim, Mismatch):
        raise problem(422, "idempotency-key-reused", "Idempotency key reused",
                      f"This `{IDEMPOTENCY_HEADER}` was already used with a different request body",
                      field=IDEMPOTENCY_HEADER)
    if isinstance(claim, InFlight):
        raise _in_flight(claim.retry_after)
    assert isinstance(claim, Claimed)
    record_id = str(uuid.uuid4())
    headers = {"Location": f"/assessments/{record_id}"}

    try:
        appended = await produce(record_id, Completion(client_id=client_id, key=key, owner=claim.owner,
                                                       headers=headers))
    except BaseException as exc:
        with anyio.CancelScope(shield=True):  # release even when the caller went away
            with contextlib.suppress(Exception):  # best effort: the lease runs out by itself
                await anyio.to_thread.run_sync(store.release, client_id, key, claim.owner)
        if isinstance(exc, LeaseLost):
            raise _in_flight(1) from None
        raise
    served, extra = await render(appended.envelope.id)
    return _raw_response(served, 201, {**headers, **extra})


def _in_flight(retry_after: int) -> Exception:
    return problem(409, "idempotency-key-in-flight", "Request with this key in flight",
                   f"A request with this `{IDEMPOTENCY_HEADER}` is still being processed; retry after "
                   f"{retry_after} s to get its result", field=IDEMPOTENCY_HEADER,
                   headers={"Retry-After": str(retry_after)})
