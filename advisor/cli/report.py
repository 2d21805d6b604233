"""A recommendation as a plain-text table, for people at a terminal."""

from __future__ import annotations

from advisor.domain.profile import OPTION_NAMES
from advisor.domain.recommendation import Recommendation


def render_table(rec: Recommendation) -> str:
    lines = [f"Decision: {rec.decision} ({rec.strength})", "", rec.summary, ""]
    header = f"{'option':<12} {'eligible':<9} {'USD/month':>12} {'weeks':>6}  configuration"
    lines += [header, "-" * len(header)]
    for name in OPTION_NAMES:
        o = rec.options.get(name)
        cost = "n/a" if o.monthly_usd is None else f"{o.monthly_usd:,.2f}"
        eligible = "yes" if o.eligible else "no"
        weeks = "" if o.weeks_to_production is None else str(o.weeks_to_production)
        lines.append(f"{name:<12} {eligible:<9} {cost:>12} {weeks:>6}  {o.configuration}")
        if o.excluded_by:
            lines.append(f"{'':<12} excluded by {', '.join(o.excluded_by)}")
        for item in o.line_items:
            flag = " (assumption)" if item.source.assumption else ""
            lines.append(f"{'':<12}   {item.category:<22} {item.monthly_usd:>12,.2f}  {item.basis}{flag}")
    lines += ["", "Findings:"]
    lines += [f"  {f.rule_id:<28} {f.effect:<9} {f.title}" for f in rec.findings]
    even = "n/a" if rec.break_even_daily_tokens is None else f"{rec.break_even_daily_tokens:,} tokens/day"
    lines += ["", f"Break-even: {even} ({rec.break_even_basis})", "", "Risks:"]
    lines += [f"  - {r}" for r in rec.risks] or ["  (none)"]
    lines += ["", "Next steps:"] + [f"  - {s}" for s in rec.next_steps]
    v = rec.versions
    lines += ["", f"Versions: advisor {v.advisor}, rules {v.rules_digest[:19]}, catalog {v.catalog_id} "
              f"{v.catalog_digest[:19]}"]
    return "\n".join(lines)
