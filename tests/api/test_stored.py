"""The read rule (advisor.api.stored) on every route that reads a stored record: reviewers and auditors read
every record, an assessor its own, and another client's record answers exactly as a missing one does."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from litestar import Litestar
from litestar.testing import TestClient

from advisor.auth.clients import Role
from tests.factories import profile_dict

Client = TestClient[Litestar]
MISSING = "00000000-0000-4000-8000-000000000000"


def reads(record_id: str, mine: str) -> dict[str, Callable[[Client], Any]]:
    """Every route that reads ``record_id`` for its caller (``mine``: a record the caller may read)."""
    return {
        "read": lambda c: c.get(f"/assessments/{record_id}"),
        "reviews": lambda c: c.get(f"/assessments/{record_id}/reviews"),
        "adr": lambda c: c.get(f"/assessments/{record_id}/adr"),
        "curve": lambda c: c.get(f"/assessments/{record_id}/curve", params={"points": 7}),
        "compare first": lambda c: c.get(f"/assessments/{record_id}/compare/{mine}"),
        "compare second": lambda c: c.get(f"/assessments/{mine}/compare/{record_id}"),
        "what-if": lambda c: c.post("/what-if", json={"assessment_id": record_id, "points": 7}),
        "reassess": lambda c: c.post(f"/assessments/{record_id}/reassess", params={"dry_run": "true"}),
    }


def test_another_clients_record_is_a_missing_one_on_every_read(client: Client,
                                                               client_as: Callable[..., Client]) -> None:
    theirs = client_as(Role.ASSESSOR, "other-portal").post("/assess", json=profile_dict()).json()["id"]
    mine = client.post("/assess", json=profile_dict()).json()["id"]
    foreign, missing = reads(theirs, mine), reads(MISSING, mine)
    for route, call in foreign.items():
        got, absent = call(client), missing[route](client)
        assert (route, got.status_code, absent.status_code) == (route, 404, 404)
        assert got.headers["content-type"] == absent.headers["content-type"] == "application/problem+json"
        assert got.json() == {**absent.json(), "detail": f"no assessment {theirs}"}, route
    for route, call in reads(mine, mine).items():
        assert call(client).status_code == 200, route  # its own: read on every route
    for role in (Role.REVIEWER, Role.AUDITOR):
        reader = client_as(role)
        for route, call in foreign.items():
            assert call(reader).status_code == 200, (role, route)
