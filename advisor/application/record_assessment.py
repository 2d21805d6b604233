"""The record-assessment use case: claim the Idempotency-Key, evaluate, append (completing the claim).

One function every caller goes through (the ``POST /assess`` controller today), so the order and the
failure rules live in one place:

* no key: evaluate, append;
* a key: claim it first (a replay, a key reused with another body or a request still in flight end
  here, before any evaluation), then evaluate and append, the append completing the claim in the
  record's own commit;
* anything failing after the claim releases it (nothing stays stored; the key can be used again),
  even when the caller went away; a claim lost meanwhile is ``KeyInFlight``.

HTTP lives in the controller: status codes, headers, problem+json and the rendering of a replay.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import anyio
import anyio.to_thread

from advisor.application.ports import (
    Appender,
    Claimed,
    ClaimLost,
    Evaluator,
    IdempotencyKeys,
    InFlight,
    KeyClaim,
    Mismatch,
    NewRecord,
    Replay,
)
from advisor.domain.profile import Profile

EvaluationT = TypeVar("EvaluationT")


@dataclass(frozen=True)
class RecordAssessment:
    """The command: record ``profile``'s assessment for ``requester`` as ``record_id``."""

    profile: Profile
    requester: str
    record_id: str  # the id a new record gets (a replay answers with the first one's)
    body: bytes = b""  # the request as received: with a key, its SHA-256 must match the first request's
    idempotency_key: str | None = None
    replay_headers: Mapping[str, str] = field(default_factory=dict)  # kept with the key for its replays
    request_id: str | None = None


@dataclass(frozen=True)
class Recorded:
    """The record that answers the command: just appended, or (``replayed``) the key's first one."""

    record_id: str
    replayed: bool = False
    status: int = 201
    headers: Mapping[str, str] = field(default_factory=dict)  # a replay's stored headers
    body: bytes | None = None  # the new record as served, from the append itself (None: read it back)


class KeyReused(Exception):
    """The Idempotency-Key was used before with a different body."""


class KeyInFlight(Exception):
    """A request with this Idempotency-Key is still running (or took the claim over): retry later."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"a request with this key is in flight; retry after {retry_after} s")
        self.retry_after = retry_after


async def record_assessment(command: RecordAssessment, evaluator: Evaluator[EvaluationT],
                            appender: Appender[EvaluationT], keys: IdempotencyKeys) -> Recorded:
    """Record one assessment at most once per (requester, key); see the module's docstring."""
    if command.idempotency_key is None:
        body = await _evaluate_and_append(command, evaluator, appender, None)
        return Recorded(record_id=command.record_id, body=body)
    client_id, key = command.requester, command.idempotency_key
    claim = await anyio.to_thread.run_sync(keys.claim, client_id, key, hashlib.sha256(command.body).hexdigest())
    if isinstance(claim, Replay):
        return Recorded(record_id=claim.record_id, replayed=True, status=claim.status, headers=claim.headers)
    if isinstance(claim, Mismatch):
        raise KeyReused("this Idempotency-Key was already used with a different request body")
    if isinstance(claim, InFlight):
        raise KeyInFlight(claim.retry_after)
    assert isinstance(claim, Claimed)
    try:
        body = await _evaluate_and_append(command, evaluator, appender,
                                          KeyClaim(client_id, key, claim.owner, dict(command.replay_headers)))
    except BaseException as exc:
        with anyio.CancelScope(shield=True):  # release even when the caller went away
            with contextlib.suppress(Exception):  # best effort: the lease runs out by itself
                await anyio.to_thread.run_sync(keys.release, client_id, key, claim.owner)
        if isinstance(exc, ClaimLost):
            raise KeyInFlight(1) from None
        raise
    return Recorded(record_id=command.record_id, body=body)


async def _evaluate_and_append(command: RecordAssessment, evaluator: Evaluator[EvaluationT],
                               appender: Appender[EvaluationT], claim: KeyClaim | None) -> bytes | None:
    evaluation = await evaluator.evaluate(command.profile)
    return await appender.append(NewRecord(record_id=command.record_id, requester=command.requester,
                                    request_id=command.request_id, claim=claim), evaluation)


class AssessmentRecorder(Generic[EvaluationT]):
    """``record_assessment`` with its collaborators bound: what ``create_app`` provides to controllers."""

    def __init__(self, evaluator: Evaluator[EvaluationT], appender: Appender[EvaluationT],
                 keys: IdempotencyKeys) -> None:
        self.evaluator = evaluator
        self.appender = appender
        self.keys = keys

    async def __call__(self, command: RecordAssessment) -> Recorded:
        return await record_assessment(command, self.evaluator, self.appender, self.keys)

    def with_evaluator(self, evaluator: Evaluator[EvaluationT]) -> AssessmentRecorder[EvaluationT]:
        """The same log and keys with another evaluation (a reassessment's names the record it supersedes)."""
        return AssessmentRecorder(evaluator, self.appender, self.keys)
