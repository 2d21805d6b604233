"""The schema comes only from Alembic; upgrade and downgrade both work."""

from __future__ import annotations

from sqlalchemy import inspect

from advisor.settings import Settings
from advisor.store.database import current_revision, downgrade, head_revision, make_engine, migrate
from advisor.store.tables import metadata


def test_upgrade_downgrade_upgrade_on_sqlite(settings: Settings) -> None:
    migrate(settings)
    engine = make_engine(settings)
    try:
        assert current_revision(engine) == head_revision()
        assert set(metadata.tables) <= set(inspect(engine).get_table_names())
        downgrade(settings, "base")
        assert not set(metadata.tables) & set(inspect(engine).get_table_names())
        migrate(settings)
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


def test_sqlite_runs_in_wal_with_full_sync(settings: Settings) -> None:
    migrate(settings)
    engine = make_engine(settings)
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
    finally:
        engine.dispose()
