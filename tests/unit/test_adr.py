"""The MADR decision record: its layout is fixed by a golden file.

A fixed profile (examples/hospital-baa.json), a fixed clock and fixed ids, reviews and receipt, priced by
the real rules and catalog. After a deliberate change to the layout (or to the rules or catalog, which
change the figures), regenerate and review the diff:

    .venv/bin/python -m pytest tests/unit/test_adr.py --update-golden
"""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from advisor.application.evaluate import Advisor
from advisor.audit.record import Assessment, Receipt
from advisor.domain.profile import Profile
from advisor.domain.review import Review, status_of
from advisor.reports.adr import decision_record
from advisor.settings import PROJECT_ROOT

GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "adr.md"
NOON = "2026-12-01T12:00:00.000000Z"


def fixed_assessment(advisor: Advisor) -> Assessment:
    profile = msgspec.json.decode((PROJECT_ROOT / "examples" / "hospital-baa.json").read_bytes(), type=Profile)
    recommendation = advisor.assess(profile)
    receipt = Receipt(seq=7, hash="a" * 64, prev_hash="b" * 64, key_id="k" * 43, log="llm-hosting-advisor",
                      jws="eyJhbGciOiJFZERTQSJ9..c2ln", leaf_index=6)
    return Assessment(**msgspec.structs.asdict(recommendation), id="00000000-0000-4000-8000-000000000007",
                      created_at=NOON, requester="cl-00000000000000aa", receipt=receipt)


def fixed_reviews() -> list[Review]:
    return [Review(id="00000000-0000-4000-8000-000000000008", assessment_id="00000000-0000-4000-8000-000000000007",
                   assessment_hash="a" * 64, reviewer="cl-00000000000000bb", verdict="request_changes",
                   comment="Price the | BAA\nline again.", created_at="2026-12-01T13:00:00.000000Z", seq=8,
                   hash="c" * 64),
            Review(id="00000000-0000-4000-8000-000000000009", assessment_id="00000000-0000-4000-8000-000000000007",
                   assessment_hash="a" * 64, reviewer="cl-00000000000000bb", verdict="accept", comment="Done.",
                   created_at="2026-12-01T14:00:00.000000Z", seq=9, hash="d" * 64)]


def test_the_decision_record_matches_the_golden_file(advisor: Advisor, request: pytest.FixtureRequest) -> None:
    reviews = fixed_reviews()
    status = status_of(((r.reviewer, r.verdict) for r in reviews), 1, superseded=False)
    text = decision_record(fixed_assessment(advisor), reviews, status, accepts_required=1)
    if request.config.getoption("--update-golden"):
        GOLDEN.write_text(text)
    assert text == GOLDEN.read_text(), "the layout changed: regenerate with --update-golden and review the diff"


def test_the_record_says_what_madr_asks_for(advisor: Advisor) -> None:
    record = fixed_assessment(advisor)
    text = decision_record(record, [], "proposed", accepts_required=2)
    sections = [line for line in text.splitlines() if line.startswith("#")]
    assert [s.split(" ", 1)[1] for s in sections if s.startswith("## ")] == [
        "Context and Problem Statement", "Decision Drivers", "Considered Options", "Decision Outcome",
        "Pros and Cons of the Options", "More Information"]
    assert text.startswith("---\nstatus: proposed\ndate: 2026-12-01\n")
    assert f"/assessments/{record.id}/verification" in text
    assert "No reviews yet." in text
    assert "2 different reviewers" in text
    for option in ("managed API", "self-hosting", "hybrid routing"):
        assert f"### {option}" in text
    priced = [o.monthly_usd for o in (record.options.managed, record.options.self_hosted, record.options.hybrid)
              if o.monthly_usd is not None]
    assert priced
    for amount in priced:  # every option's total, as the record has it, in the record
        whole, _, cents = str(amount).partition(".")
        assert f"${int(whole):,}.{(cents + '00')[:2]}" in text
