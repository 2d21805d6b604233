"""The schema comes only from Alembic; upgrade and downgrade both work."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from advisor.settings import Settings
from advisor.store.database import current_revision, downgrade, head_revision, make_engine, migrate
from advisor.store.tables import metadata


def test_upgrade_downgrade_upgrade(settings: Settings) -> None:
    """The same migrations on both databases (``settings`` is parametrised: sqlite and postgres)."""
    migrate(settings)
    engine = make_engine(settings)
    try:
        assert current_revision(engine) == head_revision()
        assert set(metadata.tables) <= set(inspect(engine).get_table_names())
        with engine.connect() as conn:  # the migrated schema is the one the code declares, on either database
            assert compare_metadata(MigrationContext.configure(conn), metadata) == []
        downgrade(settings, "base")
        assert not set(metadata.tables) & set(inspect(engine).get_table_names())
        migrate(settings)
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_sqlite_runs_in_wal_with_full_sync(settings: Settings) -> None:
    migrate(settings)
    engine = make_engine(settings)
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
    finally:
        engine.dispose()
