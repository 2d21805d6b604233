"""What the controllers are handed: the wired services of one worker process."""

from __future__ import annotations

from dataclasses import dataclass

from litestar.di import NamedDependency
from sqlalchemy import Engine

from advisor.service import Advisor
from advisor.settings import Settings
from advisor.store.keyring import KeyRing
from advisor.store.repository import Repository
from advisor.store.writer import Appender
from advisor.workers.evaluators import Evaluator


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
