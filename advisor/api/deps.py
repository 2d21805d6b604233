"""What the controllers are handed: the wired services of one worker process."""

from __future__ import annotations

from dataclasses import dataclass

from litestar.di import NamedDependency
from sqlalchemy import Engine

from advisor.application.evaluate import Advisor
from advisor.audit.keyring import KeyRing
from advisor.evaluators import Evaluator
from advisor.settings import Settings
from advisor.store.repository import Repository
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


ServicesDep = NamedDependency[Services]
