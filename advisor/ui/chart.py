"""The cost chart: monthly cost against daily volume per eligible option, drawn server-side as SVG.

Drawn by matplotlib (its SVG backend, on a ``Figure`` without pyplot, so no GUI and no global figure
state), from the sibling analysis's :class:`~advisor.analysis.curve.Curve`. Both axes are logarithmic
(volumes span four orders of magnitude, costs two or more); the profile's volume and every crossing
inside the range are marked. The SVG is inlined in the page with a ``<title>`` and ``<desc>`` (screen
readers announce them) and the page shows the same figures as a table beside it, for readers and print.
Nothing in the SVG points outside it: text is text (``svg.fonttype: none``), ids are local.
"""

from __future__ import annotations

import io
import re
import threading
from dataclasses import dataclass
from decimal import Decimal
from html import escape

from advisor.analysis.curve import Curve
from advisor.domain.decision import LABELS
from advisor.domain.profile import OptionName

_COLOURS: dict[OptionName, str] = {"managed": "#0b5cad", "self_hosted": "#b35900", "hybrid": "#2e7d32"}
_STYLES: dict[OptionName, str] = {"managed": "-", "self_hosted": "--", "hybrid": "-."}
_MARKERS: dict[OptionName, str] = {"managed": "o", "self_hosted": "s", "hybrid": "^"}
# matplotlib's rcParams are process-global; one drawing at a time keeps one request's settings from another's.
_DRAWING = threading.Lock()


@dataclass(frozen=True)
class ChartRow:
    volume: int
    cells: list[Decimal | None]
    marked: bool
    note: str | None


@dataclass(frozen=True)
class Chart:
    svg: str
    caption: str
    series: list[tuple[OptionName, str]]
    rows: list[ChartRow]


def describe(curve: Curve) -> str:
    """The chart in words (the SVG's ``<desc>``)."""
    parts = [f"Monthly cost in US dollars (logarithmic) against daily tokens (logarithmic) from "
             f"{curve.points[0].daily_tokens:,} to {curve.points[-1].daily_tokens:,} tokens a day, for "
             f"{', '.join(LABELS[o] for o in curve.options)}. The profile's volume, "
             f"{curve.profile_daily_tokens:,} tokens a day, is marked."]
    parts += [c.basis + "." for c in curve.crossings]
    return " ".join(parts)


def chart_of(curve: Curve, title: str) -> Chart:
    """The SVG and the table of the figures it draws."""
    lo, hi = curve.points[0].daily_tokens, curve.points[-1].daily_tokens
    crossings = {c.daily_tokens for c in curve.crossings if c.daily_tokens is not None and lo <= c.daily_tokens <= hi}
    rows = [ChartRow(volume=p.daily_tokens, cells=[p.monthly_usd.get(o) for o in curve.options], marked=p.profile,
                     note="the profile's volume" if p.profile else None) for p in curve.points]
    desc = describe(curve)
    return Chart(svg=_svg(curve, sorted(crossings), title, desc), caption=desc,
                 series=[(o, LABELS[o]) for o in curve.options], rows=rows)


def _svg(curve: Curve, crossings: list[int], title: str, desc: str) -> str:
    import matplotlib  # here, not at import time: only a page with a chart pays for it
    from matplotlib.backends.backend_svg import FigureCanvasSVG
    from matplotlib.figure import Figure

    with _DRAWING, matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "advisor-chart",
                                          "font.size": 10, "font.family": "sans-serif"}):
        figure = Figure(figsize=(8.4, 4.6))
        FigureCanvasSVG(figure)
        axes = figure.add_subplot()
        for option in curve.options:
            priced = [(p.daily_tokens, float(usd)) for p in curve.points
                      if (usd := p.monthly_usd.get(option)) is not None]
            if priced:
                xs, ys = zip(*priced, strict=True)
                axes.plot(xs, ys, _STYLES[option], marker=_MARKERS[option], markersize=3.5, linewidth=1.8,
                          color=_COLOURS[option], label=LABELS[option])
        axes.set_xscale("log")
        axes.set_yscale("log")
        axes.axvline(curve.profile_daily_tokens, color="#1b1f24", linewidth=1.2, linestyle=":")
        axes.annotate(f"this profile: {curve.profile_daily_tokens:,}/day", xy=(curve.profile_daily_tokens, 1),
                      xycoords=("data", "axes fraction"), xytext=(4, -12), textcoords="offset points",
                      fontsize=8.5)
        for volume in crossings:
            axes.axvline(volume, color="#8250df", linewidth=1, linestyle="--")
            axes.annotate(f"crossing {volume:,}/day", xy=(volume, 0), xycoords=("data", "axes fraction"),
                          xytext=(4, 6), textcoords="offset points", fontsize=8.5, color="#8250df")
        axes.set_xlabel("Daily tokens (log scale)")
        axes.set_ylabel("Monthly cost, USD (log scale)")
        axes.grid(True, which="major", linewidth=0.5, color="#d0d7de")
        axes.legend(loc="upper left", frameon=False)
        figure.tight_layout()
        out = io.StringIO()
        figure.savefig(out, format="svg", metadata={"Date": None, "Creator": None})
    return _accessible(out.getvalue(), title, desc)


def _accessible(svg: str, title: str, desc: str) -> str:
    """Inline-ready: no XML prolog, fluid size, ``role="img"`` with a title and description first inside."""
    start = svg.index("<svg")
    svg = re.sub(r"<metadata>.*?</metadata>", "", svg[start:], flags=re.DOTALL)  # RDF boilerplate: nothing to read
    svg = re.sub(r'\s(width|height)="[^"]*"', "", svg[:svg.index(">")], count=2) + svg[svg.index(">"):]
    head_end = svg.index(">") + 1
    return (svg[:head_end - 1] + ' role="img" aria-labelledby="chart-title chart-desc" id="cost-chart">'
            f'<title id="chart-title">{escape(title)}</title><desc id="chart-desc">{escape(desc)}</desc>'
            + svg[head_end:])
