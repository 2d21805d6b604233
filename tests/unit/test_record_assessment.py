"""The record-assessment use case against in-memory ports that behave like the real ones (no mocks).

``MemoryKeys`` keeps claims as the store does (owner token, pending/complete, fingerprint); ``MemoryLog``
completes a record's claim in the same step as storing it, or stores nothing. The evaluator is the real
pure evaluation, so a refused profile fails exactly as in the server.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import msgspec
import pytest

from advisor.application.evaluate import Advisor, ProfileError
from advisor.application.ports import Claimed, ClaimLost, ClaimResult, InFlight, Mismatch, NewRecord, Replay
from advisor.application.record_assessment import (
    AssessmentRecorder,
    KeyInFlight,
    KeyReused,
    RecordAssessment,
    Recorded,
)
from advisor.domain.profile import Profile
from advisor.domain.recommendation import Recommendation
from tests.factories import make_profile


@dataclass
class _Key:
    fingerprint: str
    owner: str
    record_id: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


class MemoryKeys:
    """``IdempotencyKeys`` in a dict: claim, replay, mismatch, in flight, release, complete-or-lost."""

    def __init__(self) -> None:
        self.keys: dict[tuple[str, str], _Key] = {}

    def claim(self, client_id: str, key: str, fingerprint: str) -> ClaimResult:
        found = self.keys.get((client_id, key))
        if found is None:
            owner = secrets.token_hex(8)
            self.keys[client_id, key] = _Key(fingerprint, owner)
            return Claimed(owner)
        if found.fingerprint != fingerprint:
            return Mismatch()
        if found.record_id is not None:
            return Replay(status=201, headers=dict(found.headers), record_id=found.record_id)
        return InFlight(retry_after=1)

    def release(self, client_id: str, key: str, owner: str) -> None:
        found = self.keys.get((client_id, key))
        if found is not None and found.owner == owner and found.record_id is None:
            del self.keys[client_id, key]

    def complete(self, client_id: str, key: str, owner: str, record_id: str, headers: Mapping[str, str]) -> None:
        found = self.keys.get((client_id, key))
        if found is None or found.owner != owner or found.record_id is not None:
            raise ClaimLost(f"claim on {key!r} lost")
        found.record_id, found.headers = record_id, dict(headers)


class MemoryLog:
    """``Appender``: a record and its claim's completion are stored together or not at all."""

    def __init__(self, keys: MemoryKeys) -> None:
        self.keys = keys
        self.records: dict[str, tuple[NewRecord, Recommendation]] = {}

    async def append(self, record: NewRecord, evaluation: Recommendation) -> bytes | None:
        if record.claim is not None:  # first: a lost claim stores nothing
            claim = record.claim
            self.keys.complete(claim.client_id, claim.key, claim.owner, record.record_id, claim.headers)
        self.records[record.record_id] = (record, evaluation)
        return None  # the caller reads the record back


class PureEvaluator:
    """``Evaluator`` over the real pure evaluation, in this process."""

    def __init__(self, advisor: Advisor) -> None:
        self.advisor = advisor

    async def evaluate(self, profile: Profile) -> Recommendation:
        return self.advisor.assess(profile)


@dataclass
class World:
    keys: MemoryKeys
    log: MemoryLog
    recorder: AssessmentRecorder[Recommendation]


@pytest.fixture
def world(advisor: Advisor) -> World:
    keys = MemoryKeys()
    log = MemoryLog(keys)
    return World(keys, log, AssessmentRecorder(PureEvaluator(advisor), log, keys))


def command(profile: Profile, key: str | None = None, requester: str = "cl-a") -> RecordAssessment:
    record_id = secrets.token_hex(8)
    return RecordAssessment(profile=profile, requester=requester, record_id=record_id,
                            body=msgspec.json.encode(profile), idempotency_key=key,
                            replay_headers={"Location": f"/assessments/{record_id}"})


def run(world: World, cmd: RecordAssessment) -> Recorded:
    return asyncio.run(world.recorder(cmd))


def test_without_a_key_each_request_is_one_record(world: World, advisor: Advisor) -> None:
    profile = make_profile()
    first, second = run(world, command(profile)), run(world, command(profile))
    assert first.record_id != second.record_id
    assert not first.replayed
    assert not second.replayed
    assert set(world.log.records) == {first.record_id, second.record_id}
    stored_record, stored = world.log.records[first.record_id]
    assert stored == advisor.assess(profile)
    assert stored_record.requester == "cl-a"
    assert stored_record.claim is None
    assert world.keys.keys == {}


def test_the_same_key_and_body_replay_the_first_record(world: World) -> None:
    profile = make_profile()
    first = run(world, command(profile, key="k-1"))
    again = run(world, command(profile, key="k-1"))
    assert (again.replayed, again.record_id, again.status) == (True, first.record_id, 201)
    assert again.headers == {"Location": f"/assessments/{first.record_id}"}  # the first request's, kept
    assert list(world.log.records) == [first.record_id]  # nothing new stored


def test_keys_are_scoped_to_their_client(world: World) -> None:
    profile = make_profile()
    mine = run(world, command(profile, key="k-1", requester="cl-a"))
    theirs = run(world, command(profile, key="k-1", requester="cl-b"))
    assert not theirs.replayed
    assert theirs.record_id != mine.record_id
    assert len(world.log.records) == 2


def test_the_same_key_with_another_body_is_refused_and_stores_nothing(world: World) -> None:
    run(world, command(make_profile(), key="k-1"))
    with pytest.raises(KeyReused):
        run(world, command(make_profile(workload={"daily_tokens": 5_000_000}), key="k-1"))
    assert len(world.log.records) == 1


def test_a_failed_evaluation_stores_nothing_and_frees_the_key(world: World) -> None:
    refused = make_profile(assumptions={"catalog": "no-such-catalog"})
    with pytest.raises(ProfileError):
        run(world, command(refused, key="k-1"))
    assert world.log.records == {}
    assert world.keys.keys == {}
    recorded = run(world, command(make_profile(), key="k-1"))  # another body: not a mismatch, the key is free
    assert not recorded.replayed
    assert list(world.log.records) == [recorded.record_id]


def test_a_key_still_claimed_by_another_request_is_in_flight(world: World) -> None:
    profile = make_profile()
    cmd = command(profile, key="k-1")
    claim = world.keys.claim("cl-a", "k-1", hashlib.sha256(cmd.body).hexdigest())
    assert isinstance(claim, Claimed)
    with pytest.raises(KeyInFlight) as raised:
        run(world, cmd)
    assert raised.value.retry_after == 1
    assert world.log.records == {}
    assert world.keys.keys["cl-a", "k-1"].owner == claim.owner  # the other request's claim is left alone


def test_a_claim_taken_over_before_the_append_is_in_flight_and_stores_nothing(world: World,
                                                                               advisor: Advisor) -> None:
    class TakenOverWhileEvaluating(PureEvaluator):
        async def evaluate(self, profile: Profile) -> Recommendation:
            for held in world.keys.keys.values():  # the lease ran out: another request took the claim over
                held.owner = "someone-else"
            return await super().evaluate(profile)

    recorder: AssessmentRecorder[Any] = AssessmentRecorder(TakenOverWhileEvaluating(advisor), world.log, world.keys)
    with pytest.raises(KeyInFlight):
        asyncio.run(recorder(command(make_profile(), key="k-1")))
    assert world.log.records == {}
    assert world.keys.keys["cl-a", "k-1"].owner == "someone-else"  # not released: it is not ours any more
