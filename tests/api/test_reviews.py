"""Reviews: signed records in the same log, the status they give an assessment, the decision record."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import msgspec
import pytest
from litestar import Litestar
from litestar.testing import TestClient
from sqlalchemy import func, select

from advisor.audit.record import Assessment
from advisor.auth.clients import Role
from advisor.domain.recommendation import Recommendation
from advisor.settings import Settings
from advisor.store.tables import records
from advisor.store.verification import verify_database
from advisor.store.writer import Draft
from tests.conftest import running_app
from tests.factories import profile_dict
from tests.signed_log import rewrite_payload, row, tampering

Client = TestClient[Litestar]
sqlite_only = pytest.mark.parametrize("settings", ["sqlite"], indirect=True)


def assess(client: Client) -> str:
    created = client.post("/assess", json=profile_dict())
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def count(app: Litestar) -> int:
    with app.state.services.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(records)).scalar_one())


def test_a_review_is_a_signed_record_and_decides_the_status(app: Litestar, client: Client,
                                                           client_as: Callable[..., Client],
                                                           settings: Settings) -> None:
    record_id = assess(client)
    assert client.get(f"/assessments/{record_id}").json()["status"] == "proposed"
    reviewer = client_as(Role.REVIEWER, "board")
    posted = reviewer.post(f"/assessments/{record_id}/reviews", json={"verdict": "accept", "comment": "Sound."})
    assert posted.status_code == 201, posted.text
    assert posted.headers["location"] == f"/assessments/{record_id}/reviews"
    review = posted.json()
    assert (review["verdict"], review["comment"], review["seq"]) == ("accept", "Sound.", 2)
    assert review["reviewer"] == reviewer.headers["Authorization"].split("_")[1]
    served = client.get(f"/assessments/{record_id}").json()
    assert served["status"] == "accepted"
    assert review["assessment_hash"] == served["receipt"]["hash"]  # the verdict names the bytes it judged
    listed = client.get(f"/assessments/{record_id}/reviews").json()
    assert listed["status"] == "accepted"
    assert [r["id"] for r in listed["reviews"]] == [review["id"]]
    # The whole log verifies, review included; the listing shows assessments only.
    result = verify_database(app.state.services.engine, settings.log_name)
    assert (result.problem, result.records) == (None, 2)
    assert [i["id"] for i in client.get("/assessments").json()["items"]] == [record_id]
    auditor = client_as(Role.AUDITOR)
    checked = auditor.get(f"/assessments/{review['id']}/verification")
    assert checked.status_code == 200
    assert checked.json()["problems"] == []


@sqlite_only
def test_a_tampered_review_is_caught_like_any_record(app: Litestar, client: Client,
                                                     client_as: Callable[..., Client], settings: Settings) -> None:
    record_id = assess(client)
    client_as(Role.REVIEWER).post(f"/assessments/{record_id}/reviews", json={"verdict": "reject", "comment": "No."})
    assess(client)  # a record after it, so the chain link is checked too
    assert verify_database(app.state.services.engine, settings.log_name).problem is None

    def soften(document: dict[str, object]) -> None:
        review = document["review"]
        assert isinstance(review, dict)
        review["verdict"] = "accept"

    with tampering(settings) as conn:
        rewrite_payload(conn, 2, soften, rehash=True, columns={"decision": "accept"})
        assert row(conn, 2)["kind"] == "review"
    problem = verify_database(app.state.services.engine, settings.log_name).problem
    assert problem is not None
    assert problem.seq == 2
    with tampering(settings) as conn:  # a review's kind column turned to hide it from the status
        conn.execute("UPDATE records SET kind = 'assessment' WHERE seq = 2")
    problem = verify_database(app.state.services.engine, settings.log_name).problem
    assert problem is not None
    assert problem.seq == 2


def test_each_reviewers_latest_verdict_counts_and_the_policy_sets_how_many_accept(settings: Settings) -> None:
    strict = msgspec.structs.replace(settings, review_accepts_required=2)
    with running_app(strict) as app, TestClient(app) as base:
        from tests.conftest import authorised, issue_key

        portal = authorised(base, issue_key(app, Role.ASSESSOR, "portal"))
        record_id = assess(portal)
        first, second = (authorised(TestClient(app), issue_key(app, Role.REVIEWER, n)) for n in ("one", "two"))

        def review(who: Client, verdict: str) -> str:
            assert who.post(f"/assessments/{record_id}/reviews", json={"verdict": verdict}).status_code == 201
            return str(portal.get(f"/assessments/{record_id}").json()["status"])

        assert review(first, "accept") == "proposed"  # one of two
        assert review(first, "accept") == "proposed"  # the same reviewer twice is still one
        assert review(second, "reject") == "rejected"
        assert review(second, "request_changes") == "proposed"
        assert review(second, "accept") == "accepted"
        listed = portal.get("/assessments", params={"status": "accepted"}).json()["items"]
        assert [i["id"] for i in listed] == [record_id]
        assert portal.get("/assessments", params={"status": "rejected"}).json()["items"] == []


def test_a_reassessment_supersedes(app: Litestar, client: Client) -> None:
    record_id = assess(client)
    served = msgspec.json.decode(client.get(f"/assessments/{record_id}").content, type=Assessment)
    fields = {name: getattr(served, name) for name in Recommendation.__struct_fields__}
    later = Recommendation(**{**fields, "supersedes": record_id})
    writer = app.state.services.writer
    writer.append_sync([Draft.new(id=str(uuid.uuid4()), requester="cl-0000000000000000", recommendation=later)])
    assert client.get(f"/assessments/{record_id}").json()["status"] == "superseded"
    assert [i["id"] for i in client.get("/assessments", params={"status": "superseded"}).json()["items"]] == [
        record_id]


@sqlite_only
def test_bad_reviews_are_refused_and_nothing_is_stored(app: Litestar, client: Client,
                                                      client_as: Callable[..., Client]) -> None:
    record_id = assess(client)
    reviewer = client_as(Role.REVIEWER)
    before = count(app)
    cases = {
        "verdict": {"verdict": "maybe"},
        "comment": {"verdict": "accept", "comment": "x" * 4001},
        "extra": {"verdict": "accept", "score": 3},
    }
    for field, body in cases.items():
        response = reviewer.post(f"/assessments/{record_id}/reviews", json=body)
        assert response.status_code == 400, (field, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        if field != "extra":
            assert field in response.json()["field"]
    missing = reviewer.post("/assessments/00000000-0000-4000-8000-000000000000/reviews", json={"verdict": "accept"})
    assert missing.status_code == 404
    assert count(app) == before


@sqlite_only
def test_the_requester_may_not_review_their_own_assessment(settings: Settings) -> None:
    """Only a caller with both roles could try: the anonymous caller when authentication is off."""
    with running_app(msgspec.structs.replace(settings, auth_required=False)) as app, TestClient(app) as anonymous:
        record_id = assess(anonymous)
        refused = anonymous.post(f"/assessments/{record_id}/reviews", json={"verdict": "accept"})
        assert refused.status_code == 403
        assert refused.json()["type"].endswith("/own-assessment")
        assert count(app) == 1


def test_the_decision_record_is_markdown_with_the_reviews(client: Client, client_as: Callable[..., Client]) -> None:
    record_id = assess(client)
    client_as(Role.REVIEWER, "board").post(f"/assessments/{record_id}/reviews",
                                           json={"verdict": "request_changes", "comment": "Price the BAA."})
    response = client.get(f"/assessments/{record_id}/adr")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/markdown; charset=utf-8"
    text = response.text
    assert text.startswith("---\nstatus: proposed\n")
    assert "| request_changes | Price the BAA. |" in text
    assert f"`GET /assessments/{record_id}/verification`" in text


def test_an_assessor_reads_reviews_of_its_own_assessments_only(client: Client,
                                                              client_as: Callable[..., Client]) -> None:
    theirs = assess(client_as(Role.ASSESSOR, "other-portal"))
    mine = assess(client)
    assert client.get(f"/assessments/{mine}/reviews").status_code == 200
    assert client.get(f"/assessments/{theirs}/reviews").status_code == 404
    assert client.get(f"/assessments/{theirs}/adr").status_code == 404
