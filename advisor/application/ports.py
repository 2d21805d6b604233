"""What the use cases need of the world, as Protocols (ports): the adapters satisfy them structurally.

A use case imports these, never ``advisor.store`` or the evaluator processes: ``create_app`` hands it
the real adapters, unit tests hand it in-memory fakes with the same behaviour. The claim outcomes are
the idempotency concept's own vocabulary, so they are defined here and the store returns them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from advisor.domain.profile import Profile
from advisor.domain.rules import Rulebook

EvaluationT_co = TypeVar("EvaluationT_co", covariant=True)
EvaluationT_contra = TypeVar("EvaluationT_contra", contravariant=True)


# --- outcomes of claiming an Idempotency-Key ---------------------------------------------------------------


@dataclass(frozen=True)
class Claimed:
    """The key is this request's now; ``owner`` proves it when the record completes it."""

    owner: str


@dataclass(frozen=True)
class Replay:
    """A key already used: the record it created (its body is rebuilt from the stored record)."""

    status: int
    headers: dict[str, str]
    record_id: str


@dataclass(frozen=True)
class InFlight:
    """Another request with this key is still running."""

    retry_after: int


@dataclass(frozen=True)
class Mismatch:
    """The key was used with a different body."""


ClaimResult = Claimed | Replay | InFlight | Mismatch


class ClaimLost(Exception):
    """An appender's refusal: the record's key claim was taken over or released before it committed."""


@dataclass(frozen=True)
class KeyClaim:
    """An Idempotency-Key claim the appender completes in the record's own transaction (both or neither)."""

    client_id: str
    key: str
    owner: str
    headers: Mapping[str, str] = field(default_factory=dict)  # what a replay answers with, besides the body


@dataclass(frozen=True)
class NewRecord:
    """Where and for whom an evaluation is to be recorded."""

    record_id: str
    requester: str  # the authenticated client, signed into the record
    request_id: str | None = None  # the HTTP request's, for the appender's log lines
    claim: KeyClaim | None = None


# --- the ports -------------------------------------------------------------------------------------------


class Evaluator(Protocol[EvaluationT_co]):
    """Computes a profile's recommendation (in process or in evaluator processes), in whatever form the
    matching appender takes; the use case only passes it on. Raises ``ProfileError`` for a profile the
    catalogs cannot serve."""

    async def evaluate(self, profile: Profile) -> EvaluationT_co: ...


class Appender(Protocol[EvaluationT_contra]):
    """Appends an evaluation to the signed log and completes ``record.claim`` in the same commit; returns
    once it is durable, with the record as served when the log can build it from what it wrote (None: read
    it back). Raises ``ClaimLost`` when the claim is no longer the record's."""

    async def append(self, record: NewRecord, evaluation: EvaluationT_contra) -> bytes | None: ...


class IdempotencyKeys(Protocol):
    """Idempotency-Key claims, scoped to a client (blocking calls: the use case runs them in a thread)."""

    def claim(self, client_id: str, key: str, fingerprint: str) -> ClaimResult: ...

    def release(self, client_id: str, key: str, owner: str) -> None: ...


class KeptRulebooks(Protocol):
    """Rulebook versions by digest, as past records name them (``store.versions.VersionStore``)."""

    def rulebook(self, digest: str) -> Rulebook | None: ...
