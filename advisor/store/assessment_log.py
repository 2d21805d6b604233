"""The record-assessment use case's ``Appender`` port over the chain writer (a thread or a process)."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Protocol

from advisor.application.ports import NewRecord
from advisor.audit.record import Columns, Receipt, assessment_json
from advisor.store.writer import Appended, Appender, Completion, Draft


class Canonical(Protocol):
    """An evaluation as the writer takes it (``evaluators.Evaluated``): never decoded again here."""

    @property
    def raw(self) -> bytes: ...  # the recommendation's canonical bytes: what gets signed

    @property
    def columns(self) -> Columns: ...


class AssessmentLog:
    """Turns a ``NewRecord`` and its evaluation into a ``Draft``; its claim is completed in the same commit."""

    def __init__(self, writer: Appender, on_stored: Callable[[str, int], None] | None = None) -> None:
        self.writer = writer
        self.on_stored = on_stored  # (decision, seq) once durable: metrics

    async def append(self, record: NewRecord, evaluation: Canonical) -> bytes:
        """The record appended; it as served (the 201's body), built from what the writer returned: the bytes
        it wrote and its receipt (its commit's checkpoint and its inclusion path), with no read."""
        claim = record.claim
        completion = None if claim is None else Completion(client_id=claim.client_id, key=claim.key,
                                                           owner=claim.owner, headers=dict(claim.headers))
        appended = await self.writer.append(Draft(id=record.record_id, requester=record.requester,
                                                  recommendation_raw=evaluation.raw, columns=evaluation.columns,
                                                  completion=completion, request_id=record.request_id))
        if self.on_stored is not None:
            self.on_stored(evaluation.columns.decision, appended.envelope.seq)
        return served_of(appended)


def served_of(appended: Appended) -> bytes:
    """An appended assessment as ``GET /assessments/{id}`` serves it (``receipt_of`` builds the same receipt
    from the stored rows), without its status (that changes)."""
    e, checkpoint = appended.envelope, appended.checkpoint
    receipt = Receipt(seq=e.seq, hash=appended.hash, prev_hash=e.prev_hash, key_id=e.key_id, log=e.log,
                      leaf_index=e.seq - 1, tree_size=checkpoint.size,
                      inclusion_path=[base64.b64encode(h).decode("ascii") for h in appended.inclusion_path],
                      checkpoint=checkpoint.note)
    return assessment_json(e, appended.recommendation_raw, receipt)
