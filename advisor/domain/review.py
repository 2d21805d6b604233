"""Reviews of an assessment and the status they give it (MADR's vocabulary). Pure: no I/O.

A review is a signed record in the same log as the assessments (advisor.audit.record); this module
only says what a set of them means:

* each reviewer's latest verdict counts (a reviewer may change their mind; every verdict stays in the log);
* a current ``reject`` from anyone makes the assessment ``rejected``;
* otherwise ``accepted`` once ``accepts_required`` distinct reviewers' current verdict is ``accept``;
* ``superseded`` once a stored reassessment names it in ``supersedes``, whatever the reviews said;
* else ``proposed`` (``request_changes`` keeps it there).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Literal

import msgspec

Verdict = Literal["accept", "reject", "request_changes"]
Status = Literal["proposed", "accepted", "rejected", "superseded"]
STATUSES: tuple[Status, ...] = ("proposed", "accepted", "rejected", "superseded")
VERDICTS: tuple[Verdict, ...] = ("accept", "reject", "request_changes")
MAX_COMMENT = 4000


class ReviewRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The body of ``POST /assessments/{id}/reviews``."""

    verdict: Annotated[Verdict, msgspec.Meta(description="accept, reject or request_changes")]
    comment: Annotated[str, msgspec.Meta(max_length=MAX_COMMENT, description=(
        "Why, for the record (it is signed with the verdict); up to 4000 characters"))] = ""


class ReviewBody(msgspec.Struct, frozen=True, kw_only=True):
    """What a review record signs besides the log envelope (whose ``requester`` is the reviewer)."""

    assessment_id: str
    assessment_hash: str  # the reviewed record's hash: the verdict is about exactly those bytes
    verdict: Verdict
    comment: str


class Review(msgspec.Struct, frozen=True, kw_only=True):
    """A stored review as served."""

    id: Annotated[str, msgspec.Meta(description="The review record's id")]
    assessment_id: Annotated[str, msgspec.Meta(description="The assessment it reviews")]
    assessment_hash: Annotated[str, msgspec.Meta(description="The reviewed record's hash in the log")]
    reviewer: Annotated[str, msgspec.Meta(description="The reviewer's client id (inside the signed record)")]
    verdict: Annotated[Verdict, msgspec.Meta(description="accept, reject or request_changes")]
    comment: Annotated[str, msgspec.Meta(description="The reviewer's comment")]
    created_at: Annotated[str, msgspec.Meta(description="When it was appended to the log (RFC 3339, UTC)")]
    seq: Annotated[int, msgspec.Meta(description="Its position in the log")]
    hash: Annotated[str, msgspec.Meta(description="Its hash in the log (verify it like any record)")]


def status_of(verdicts: Iterable[tuple[str, Verdict]], accepts_required: int, superseded: bool) -> Status:
    """The status from ``(reviewer, verdict)`` pairs in log order."""
    if superseded:
        return "superseded"
    current: dict[str, Verdict] = {}
    for reviewer, verdict in verdicts:
        current[reviewer] = verdict
    if "reject" in current.values():
        return "rejected"
    if sum(1 for v in current.values() if v == "accept") >= accepts_required:
        return "accepted"
    return "proposed"


def policy_text(accepts_required: int) -> str:
    who = "one reviewer" if accepts_required == 1 else f"{accepts_required} different reviewers"
    return (f"Accepted once {who} accept{'s' if accepts_required == 1 else ''} (each reviewer's latest verdict "
            "counts); rejected while any reviewer's latest verdict is reject; the requester may not review "
            "their own assessment.")
