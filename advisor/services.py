"""What ``create_app`` wires for one worker process (``Services``), and the ``Provide`` per piece that
controllers name (each handler names only the pieces it uses; none takes the whole bag)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar.di import Provide
from sqlalchemy import Engine

from advisor.analysis.service import Analysis
from advisor.application.evaluate import Advisor
from advisor.application.reassess import Replayer
from advisor.application.record_assessment import AssessmentRecorder
from advisor.auth.clients import ClientStore
from advisor.settings import Settings
from advisor.store.database import Database
from advisor.store.idempotency import IdempotencyStore
from advisor.store.keyring import KeyRing
from advisor.store.repository import Repository
from advisor.store.versions import VersionStore
from advisor.store.writer import Appender
from advisor.workers.evaluators import Evaluated, Evaluator


@dataclass(frozen=True)
class Services:
    """What ``build_services`` wired for one worker process: the lifespan hooks start and stop it, the CLI
    and tests reach it as ``app.state.services``. Controllers never see it: each gets the pieces it names."""

    settings: Settings
    advisor: Advisor
    evaluator: Evaluator
    db: Database  # the engine and its dialect: connections, the chain lock, readiness
    repository: Repository
    writer: Appender
    keyring: KeyRing
    clients: ClientStore
    idempotency: IdempotencyStore
    record_assessment: AssessmentRecorder[Evaluated]
    versions: VersionStore  # every rulebook and catalog version records name, by digest
    replayer: Replayer  # reassess: today's advisor, the kept rulebooks of past records

    @property
    def engine(self) -> Engine:
        """SQLAlchemy's engine behind ``db``, for tests and tools that run SQL of their own."""
        return self.db.engine

    def dependencies(self) -> dict[str, Provide]:
        """One ``Provide`` per thing a controller may name (the parameter's name is the key)."""
        provided: dict[str, Any] = {
            "settings": self.settings, "advisor": self.advisor, "db": self.db,
            "repository": self.repository, "writer": self.writer, "keyring": self.keyring, "clients": self.clients,
            "record_assessment": self.record_assessment, "analysis": Analysis(self.advisor),
            "versions": self.versions, "replayer": self.replayer,
        }
        return {name: Provide(_constant(value), use_cache=True, sync_to_thread=False)
                for name, value in provided.items()}


def _constant(value: Any) -> Any:
    def provide() -> Any:
        return value

    return provide
