"""What the controllers are handed: the wired services of one worker process."""

from __future__ import annotations

from dataclasses import dataclass

from litestar.di import NamedDependency
from sqlalchemy import Engine

from advisor.application.reassess import Replayer
from advisor.audit.keyring import KeyRing
from advisor.evaluators import Evaluator
from advisor.service import Advisor
from advisor.settings import Settings
from advisor.store.repository import Repository
from advisor.store.versions import VersionStore
from advisor.store.writer import Appender


@dataclass(frozen=True)
class Services:
    settings: Settings
    advisor: Advisor
    evaluator: Evaluator
    engine: Engine
    repository: Repository
    writer: Appender
    keyring: KeyRing
    versions: VersionStore
    replayer: Replayer  # reassess: today's advisor, the kept rulebooks of past records


ServicesDep = NamedDependency[Services]
