"""PostgreSQL URLs: the maintained driver, and session bounds an operator can still override."""

from __future__ import annotations

from advisor.store.database import POSTGRES_SESSION_OPTIONS, normalise_url, postgres_connect_args


def test_plain_postgresql_urls_use_psycopg_3() -> None:
    assert normalise_url("postgresql://u:p@db:5432/advisor") == "postgresql+psycopg://u:p@db:5432/advisor"
    assert normalise_url("postgres://u@db/advisor").startswith("postgresql+psycopg://")
    assert normalise_url("sqlite:///var/advisor.db") == "sqlite:///var/advisor.db"


def test_sessions_are_bounded_unless_the_operator_says_otherwise() -> None:
    """Bounded so a frozen replica cannot hold the chain lock; an explicit ``options`` is never overwritten."""
    default = postgres_connect_args("postgresql+psycopg://u@db/advisor")
    assert default["options"] == POSTGRES_SESSION_OPTIONS
    assert "idle_in_transaction_session_timeout" in default["options"]
    assert default["connect_timeout"] > 0
    assert default["keepalives"] == 1
    own = postgres_connect_args("postgresql+psycopg://u@db/advisor?options=-c%20lock_timeout%3D1s")
    assert "options" not in own  # the URL's own options reach libpq unchanged
