"""The schema comes only from Alembic; upgrade and downgrade both work."""

from __future__ import annotations

import warnings

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import SAWarning

from advisor.settings import Settings
from advisor.store.database import current_revision, downgrade, head_revision, make_engine, migrate
from advisor.store.tables import metadata

# The migrations run here, from an empty database, not on the fixtures' migrated copies.
pytestmark = pytest.mark.empty_database
EXPRESSION_INDEX = "ix_records_org_lower_seq"  # on lower(organization): the listing's prefix filter


def test_upgrade_downgrade_upgrade(settings: Settings) -> None:
    """The same migrations on both databases (``settings`` is parametrised: sqlite and postgres)."""
    migrate(settings)
    engine = make_engine(settings)
    try:
        assert current_revision(engine) == head_revision()
        assert set(metadata.tables) <= set(inspect(engine).get_table_names())
        with engine.connect() as conn, warnings.catch_warnings():  # the schema the code declares, on either database
            # SQLAlchemy cannot reflect an expression index on SQLite (it warns and skips it): checked by name below.
            warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression-based index", SAWarning)
            warnings.filterwarnings("ignore", f"autogenerate skipping metadata-specified expression-based index "
                                    f"'{EXPRESSION_INDEX}'", UserWarning)
            assert compare_metadata(MigrationContext.configure(conn), metadata) == []
            assert EXPRESSION_INDEX in {i["name"] for i in inspect(conn).get_indexes("records")} | set(
                conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'index'")).scalars()
                if conn.dialect.name == "sqlite" else ())
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


def test_the_tree_of_existing_records_is_built_by_the_migration(settings: Settings) -> None:
    """A log written before revision 0004 gets its Merkle tree: the same nodes the writer would have stored."""
    from advisor.app import create_app, ensure_signing_key
    from advisor.audit.merkle import leaf_hash, root_of
    from advisor.store.tables import merkle_nodes, records
    from advisor.store.tree import root_at
    from tests.signed_log import append_legacy_records

    migrate(settings)
    app = create_app(settings)
    ensure_signing_key(app.state.services)
    engine = app.state.services.engine
    try:
        append_legacy_records(app.state.services, 23, batch=5)  # a log from before 0008 (and 0004): a JWS each
        with engine.connect() as conn:
            written = set(conn.execute(select(merkle_nodes)).all())
        downgrade(settings, "0003")  # back to the chain-only schema, records kept
        assert "merkle_nodes" not in inspect(engine).get_table_names()
        migrate(settings)
        with engine.connect() as conn:
            assert set(conn.execute(select(merkle_nodes)).all()) == written
            payloads = [p.encode() for p in conn.execute(select(records.c.payload).order_by(records.c.seq)).scalars()]
            assert root_at(conn, 23) == root_of([leaf_hash(p) for p in payloads])
    finally:
        engine.dispose()


def test_records_written_before_reviews_keep_verifying_as_assessments(settings: Settings) -> None:
    """Revision 0007 on a log with records: each becomes kind ``assessment`` with no subject, and verifies."""
    from advisor.app import create_app, ensure_signing_key
    from advisor.store.tables import records
    from advisor.store.verification import verify_database
    from tests.signed_log import append_legacy_records

    migrate(settings)
    app = create_app(settings)
    ensure_signing_key(app.state.services)
    engine = app.state.services.engine
    try:
        append_legacy_records(app.state.services, 7, batch=3)
        downgrade(settings, "0006")
        assert "kind" not in {c["name"] for c in inspect(engine).get_columns("records")}
        migrate(settings)
        with engine.connect() as conn:
            kinds = conn.execute(select(records.c.kind, records.c.subject).order_by(records.c.seq)).all()
        assert [tuple(k) for k in kinds] == [("assessment", None)] * 7
        assert verify_database(engine, settings.log_name, workers=0).problem is None
    finally:
        engine.dispose()


def test_records_signed_one_by_one_stay_after_revision_0008(settings: Settings) -> None:
    """Revision 0008 makes ``jws`` optional and drops the response copies; the records signed before keep their
    JWS and verify, then new ones are signed per commit, and both verify in one log. A downgrade refuses while
    a record signed only by its commit's checkpoint is stored."""
    from advisor.app import create_app, ensure_signing_key
    from advisor.store.tables import records
    from advisor.store.verification import verify_database
    from tests.signed_log import append_legacy_records, append_records

    migrate(settings)
    app = create_app(settings)
    ensure_signing_key(app.state.services)
    engine = app.state.services.engine
    try:
        append_legacy_records(app.state.services, 5, batch=2)  # as the writer before 0008 left them: a JWS each
        downgrade(settings, "0007")
        assert "response_body" in {c["name"] for c in inspect(engine).get_columns("idempotency_keys")}
        assert not next(c for c in inspect(engine).get_columns("records") if c["name"] == "jws")["nullable"]
        migrate(settings)
        assert "response_body" not in {c["name"] for c in inspect(engine).get_columns("idempotency_keys")}
        with engine.connect() as conn:
            assert all(conn.execute(select(records.c.jws)).scalars())
        assert verify_database(engine, settings.log_name, workers=0).problem is None
        append_records(app.state.services, 4, batch=3)  # signed per commit from now on: one log, both formats
        with engine.connect() as conn:
            assert [j is None for j in conn.execute(select(records.c.jws).order_by(records.c.seq)).scalars()] == [
                False] * 5 + [True] * 4
        assert verify_database(engine, settings.log_name, workers=0).problem is None
        with pytest.raises(RuntimeError, match="signed only by their commit's checkpoint"):
            downgrade(settings, "0007")
    finally:
        engine.dispose()
