"""Shared fixtures: the real rulebook, catalogs and rule engine; an app on a fresh SQLite file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from advisor.app import build_advisor, create_app, ensure_signing_key
from advisor.service import Advisor
from advisor.settings import Settings
from advisor.store.database import migrate


@pytest.fixture(scope="session")
def advisor() -> Advisor:
    return build_advisor(Settings())


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(database_url=f"sqlite:///{tmp_path}/advisor.db", keys_dir=tmp_path / "keys")


@pytest.fixture
def app(settings: Settings) -> Litestar:
    migrate(settings)
    application = create_app(settings)
    ensure_signing_key(application.state.services)
    return application


@pytest.fixture
def client(app: Litestar) -> Iterator[TestClient[Litestar]]:
    with TestClient(app) as test_client:
        yield test_client
