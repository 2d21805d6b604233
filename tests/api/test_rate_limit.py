"""Per-client rate limits: 429 with Retry-After and RateLimit headers, keyed on the client, not the address."""

from __future__ import annotations

from collections.abc import Iterator

import msgspec
import pytest
from litestar import Litestar
from litestar.testing import TestClient

from advisor.app import create_app
from advisor.auth.clients import Role
from advisor.settings import Settings
from advisor.store.database import migrate
from tests.conftest import authorised, issue_key, running_app

LIMIT = 3


@pytest.fixture
def limited(settings: Settings) -> Iterator[Litestar]:
    with running_app(msgspec.structs.replace(settings, rate_limit_per_minute=LIMIT), migrated=True) as app:
        yield app


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_a_client_over_its_limit_gets_429_and_others_do_not(limited: Litestar) -> None:
    with TestClient(limited) as client:
        busy = authorised(client, issue_key(limited, Role.REVIEWER, "busy"))
        seen = [busy.get("/rules") for _ in range(LIMIT)]
        assert [r.status_code for r in seen] == [200] * LIMIT
        assert [r.headers["ratelimit-remaining"] for r in seen] == [str(LIMIT - i) for i in range(1, LIMIT + 1)]
        assert all(r.headers["ratelimit-limit"] == str(LIMIT) for r in seen)
        assert seen[0].headers["ratelimit-policy"] == f"{LIMIT}; w=60"

        refused = busy.get("/catalogs")
        assert refused.status_code == 429
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["type"].endswith("/rate-limited")
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert refused.headers["ratelimit-remaining"] == "0"

        # Another client from the same address has its own budget.
        other = authorised(TestClient(limited), issue_key(limited, Role.REVIEWER, "other"))
        assert other.get("/rules").status_code == 200
        # Public routes are not limited (health checks must not be refused).
        assert all(busy.get("/health").status_code == 200 for _ in range(LIMIT + 2))
        # A bad key is refused by authentication first: 401, not 429.
        assert TestClient(limited).get("/rules", headers={"Authorization": "Bearer wrong"}).status_code == 401


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_zero_turns_the_limit_off(settings: Settings) -> None:
    config = msgspec.structs.replace(settings, rate_limit_per_minute=0)
    migrate(config)
    app = create_app(config)
    try:
        with TestClient(app) as client:
            authorised(client, issue_key(app, Role.REVIEWER))
            responses = [client.get("/rules") for _ in range(20)]
        assert {r.status_code for r in responses} == {200}
        assert "ratelimit-limit" not in responses[0].headers
    finally:
        app.state.services.engine.dispose()
