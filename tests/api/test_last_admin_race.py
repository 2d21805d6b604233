"""The last-admin invariant holds under concurrency, on both databases: two admins revoking each other at once
leave one admin, and the loser hears 409 (not 503)."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from litestar import Litestar
from litestar.testing import TestClient

from advisor.auth.clients import ClientStore, Role
from advisor.store.errors import LastAdmin

TRIALS = 8


def race(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run ``calls`` at the same instant (as near as threads allow); each call's result or exception."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], Any]) -> Any:
        barrier.wait()
        try:
            return call()
        except Exception as exc:
            return exc

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def test_two_admins_revoking_each_other_leave_one(app: Litestar) -> None:
    store = ClientStore(app.state.services.db)
    survivor, _ = store.create("admin-0", Role.ADMIN)
    for trial in range(TRIALS):  # each trial: the two active admins revoke each other at once
        other, _ = store.create(f"admin-{trial + 1}", Role.ADMIN)
        pair = (survivor, other)
        outcomes = race([functools.partial(store.revoke, c.id) for c in pair])
        assert sum(isinstance(o, LastAdmin) for o in outcomes) == 1, outcomes
        assert not any(isinstance(o, Exception) and not isinstance(o, LastAdmin) for o in outcomes), outcomes
        assert store.active_admins() == 1
        survivor = next(c for c, o in zip(pair, outcomes, strict=True) if isinstance(o, LastAdmin))


def test_the_loser_of_a_revocation_race_over_http_gets_409(app: Litestar, client: TestClient[Litestar]) -> None:
    store = ClientStore(app.state.services.db)
    a, key_a = store.create("http-a", Role.ADMIN)
    for trial in range(TRIALS // 2):
        b, key_b = store.create(f"http-b-{trial}", Role.ADMIN)
        calls = [(b.id, key_a), (a.id, key_b)]  # each admin revokes the other
        responses = race([functools.partial(client.post, f"/clients/{target}/revoke",
                                            headers={"Authorization": f"Bearer {key}"}) for target, key in calls])
        statuses = sorted(r.status_code for r in responses)
        # The winner 200; the loser 409, or 401 when its own key was already revoked as it authenticated.
        assert statuses in ([200, 401], [200, 409]), [r.text for r in responses]
        assert store.active_admins() == 1
        if responses[1].status_code == 200:  # b revoked a: b survives and races the next new admin
            a, key_a = b, key_b
