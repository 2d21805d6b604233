"""A stored assessment as a decision record in MADR format (Markdown). Pure: no I/O, no clock.

The review board files these in its wiki; ``GET /assessments/{id}/adr`` and ``advisor adr ID`` give
the same text. The layout is fixed by a golden-file test (tests/unit/test_adr.py): a change to it is
deliberate and shows in review as a change to ``tests/golden/adr.md``.
"""

from __future__ import annotations

from collections.abc import Sequence

from advisor.audit.record import Assessment
from advisor.domain.decision import LABELS
from advisor.domain.profile import OPTION_NAMES, Profile
from advisor.domain.recommendation import OptionAssessment
from advisor.domain.review import Review, Status, policy_text

_STRENGTH = {"mandatory": "mandatory: the rules leave no other option",
             "clear": "clear: more than 10% cheaper than every other eligible option at this volume",
             "marginal": "marginal: the eligible options cost about the same; the choice could go either way"}


def usd(value: object) -> str:
    if value is None:
        return "not priced"
    whole, _, cents = str(value).partition(".")
    return f"${int(whole):,}.{(cents + '00')[:2]}"


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell (and on one line)."""
    return " ".join(text.replace("|", "\\|").split())


def context_lines(profile: Profile) -> list[str]:
    w, c, t = profile.workload, profile.compliance, profile.team
    industry = f" ({profile.organization.industry})" if profile.organization.industry else ""
    lines = [
        f"{profile.organization.name}{industry} needs a {w.capability}-tier language model for about "
        f"{w.daily_tokens:,} tokens a day ({w.output_share:.0%} generated), with volume that is "
        f"{w.volume_certainty} and {w.availability} availability.",
        f"Team: {t.ml_infra_engineers} ML infrastructure engineer{'s' if t.ml_infra_engineers != 1 else ''}"
        f"{', may hire' if t.can_hire else ', no hiring planned'}.",
    ]
    regimes = ", ".join(c.regimes) if c.regimes else "none named"
    residency = ", ".join(c.data_residency) if c.data_residency else "no residency requirement"
    lines.append(f"Compliance: regimes {regimes}; data residency: {residency}"
                 f"{'; air-gapped' if c.air_gapped else ''}{'; clinical workflow' if c.clinical_workflow else ''}.")
    if w.latency_p95_ms is not None:
        lines.append(f"Latency: p95 time to first token of at most {w.latency_p95_ms} ms.")
    return lines


def _option_line(label: str, option: OptionAssessment) -> str:
    if option.eligible:
        state = f"{usd(option.monthly_usd)} a month, {option.weeks_to_production} weeks to production"
    elif option.excluded_by:
        state = f"excluded by {', '.join(option.excluded_by)} ({usd(option.monthly_usd)} a month if it were allowed)"
    else:
        state = f"could not be priced: {option.unavailable_reason}"
    return f"* {label}: {state}"


def decision_record(record: Assessment, reviews: Sequence[Review], status: Status, accepts_required: int) -> str:
    """MADR 4 (front matter, context, drivers, options, outcome, consequences, confirmation, pros and cons)."""
    chosen = LABELS[record.decision]
    out: list[str] = [
        "---",
        f"status: {status}",
        f"date: {record.created_at[:10]}",
        f"decision-makers: {', '.join(sorted({r.reviewer for r in reviews if r.verdict == 'accept'})) or 'none yet'}",
        f"consulted: {', '.join(sorted({r.reviewer for r in reviews})) or 'none yet'}",
        f"informed: {record.requester}",
        "---",
        "",
        f"# Run the {record.profile.workload.capability}-tier language model for {record.profile.organization.name} "
        f"as {chosen}",
        "",
        "## Context and Problem Statement",
        "",
        *context_lines(record.profile),
        "",
        "Which way of running the model should we choose: a managed API, self-hosted open models, or hybrid routing?",
        "",
        "## Decision Drivers",
        "",
    ]
    out += [f"* {f.title} ({f.rule_id}, {f.effect}): {f.rationale}" for f in record.findings] or [
        "* Cost: no rule constrained the choice; the options were compared on monthly cost."]
    out += ["", "## Considered Options", ""]
    out += [_option_line(LABELS[name], record.options.get(name)) for name in OPTION_NAMES]
    out += ["", "## Decision Outcome", "",
            f'Chosen option: "{chosen}", because {record.summary}', "",
            f"Strength: {_STRENGTH[record.strength]}.", "",
            "### Consequences", ""]
    decided = record.options.get(record.decision)
    out.append(f"* Good, because it costs {usd(decided.monthly_usd)} a month and is in production in "
               f"{decided.weeks_to_production} weeks.")
    out += [f"* Bad, because {risk[0].lower()}{risk[1:]}" for risk in record.risks]
    out += [f"* Neutral: {unknown}" for unknown in record.unknowns]
    out += ["", "### Confirmation", "", record.break_even_basis, ""]
    out += [f"* What would change it: {s.basis}" for s in record.sensitivity] or [
        "* No single change in prices or volume (x0.01 to x100) changes the answer."]
    out += [f"* Next: {step}" for step in record.next_steps]
    out += ["", "## Pros and Cons of the Options", ""]
    for name in OPTION_NAMES:
        option = record.options.get(name)
        out += [f"### {LABELS[name]}", "", f"{option.configuration}" + (f" ({option.region})" if option.region else ""),
                ""]
        if option.line_items:
            out += ["| line | USD a month | basis | source |", "|---|---:|---|---|"]
            out += [f"| {_cell(i.category)} | {usd(i.monthly_usd)} | {_cell(i.basis)} | "
                    f"{_cell(i.source.entry)}, {i.source.as_of}{' (assumption)' if i.source.assumption else ''} |"
                    for i in option.line_items]
            out.append("")
        against = [f for f in record.findings if name in f.options]
        out += [f"* {'Bad' if f.effect in ('exclude', 'risk', 'cost', 'timeline') else 'Good'}, because {f.title} "
                f"({f.rule_id}, {f.effect})" for f in against]
        if against:
            out.append("")
    out += ["## More Information", "", "### Status and reviews", "",
            f"Status: **{status}**. {policy_text(accepts_required)}", ""]
    if reviews:
        out += ["| when (UTC) | reviewer | verdict | comment | review record |", "|---|---|---|---|---|"]
        out += [f"| {r.created_at[:19].replace('T', ' ')} | {r.reviewer} | {r.verdict} | {_cell(r.comment)} | "
                f"#{r.seq} `{r.hash[:16]}` |" for r in reviews]
    else:
        out.append("No reviews yet.")
    receipt = record.receipt
    out += ["", "### The signed record", "",
            f"* Assessment `{record.id}`, record #{receipt.seq} in log `{receipt.log}`, hash `{receipt.hash}`, "
            f"signed by key `{receipt.key_id}`.",
            f"* Rules `{record.versions.rules_digest}`, catalog `{record.versions.catalog_id}` "
            f"(`{record.versions.catalog_digest}`), advisor {record.versions.advisor}.",
            f"* The record as signed: `GET /assessments/{record.id}`; its inclusion proof: "
            f"`GET /assessments/{record.id}/proof`.",
            f"* Its verification: `GET /assessments/{record.id}/verification` (auditors), or "
            "`advisor verify` over the whole log.",
            ""]
    return "\n".join(out)
