"""The record-assessment use case's ``Appender`` port over the chain writer (a thread or a process)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from advisor.application.ports import NewRecord
from advisor.audit.record import Columns
from advisor.store.writer import Appender, Completion, Draft


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

    async def append(self, record: NewRecord, evaluation: Canonical) -> None:
        claim = record.claim
        completion = None if claim is None else Completion(client_id=claim.client_id, key=claim.key,
                                                           owner=claim.owner, headers=dict(claim.headers))
        appended = await self.writer.append(Draft(id=record.record_id, requester=record.requester,
                                                  recommendation_raw=evaluation.raw, columns=evaluation.columns,
                                                  completion=completion, request_id=record.request_id))
        if self.on_stored is not None:
            self.on_stored(evaluation.columns.decision, appended.envelope.seq)
