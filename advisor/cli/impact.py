"""``advisor impact``: what a proposed rules or catalog change would do to every stored decision.

The latest record of every assessment chain (a record no reassessment supersedes) is replayed under
the proposed rules and catalogs, newest first, in keyset batches: memory holds one batch, the ids
superseded by records already seen (reassessments only), a bounded cache of replays (equal
recommendations replay equally) and the report's counters. Nothing is written. Exit 0 when no
decision flips, 3 when one does (a rules repository's CI can gate on it), 2 on a usage error.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterator
from decimal import Decimal
from hashlib import sha256
from typing import Any, TextIO

import msgspec

from advisor.application.evaluate import Advisor, ProfileError
from advisor.application.reassess import Replayer
from advisor.audit.integrity import listed_failure
from advisor.audit.record import StoredPayload
from advisor.domain.drift import Drift
from advisor.domain.recommendation import Recommendation
from advisor.rules.rulebook import RulebookError, load_rulebook
from advisor.settings import Settings
from advisor.store.chains import RecordStream
from advisor.store.repository import ListFilter
from advisor.store.versions import VersionStore
from advisor.workers.evaluators import build_advisor

EXIT_NO_FLIP, EXIT_USAGE, EXIT_FLIPS = 0, 2, 3
BATCH = 500
EXAMPLES = 5
TOP = 20
PRICES = "(catalog prices)"
UNSPLIT = "(rules not kept: cause unknown)"


class _Chain(msgspec.Struct):
    supersedes: str | None = None


class _Head(msgspec.Struct):
    recommendation: _Chain


_chain = msgspec.json.Decoder(_Head)
_payload = msgspec.json.Decoder(StoredPayload)
_recommendation = msgspec.json.Decoder(Recommendation)


class Example(msgspec.Struct, frozen=True, kw_only=True):
    """One flipped record, to read in full with ``GET /assessments/{id}``."""

    id: str
    organization: str
    before: str
    after: str
    cause: str
    rules: tuple[str, ...]
    monthly_change: Decimal | None


class FlipCount(msgspec.Struct, frozen=True, kw_only=True):
    before: str
    after: str
    count: int
    examples: tuple[Example, ...]


class Report(msgspec.Struct, kw_only=True):
    """What ``advisor impact --json`` prints."""

    rules_digest: str
    catalogs: dict[str, str]
    records_read: int = 0
    chains: int = 0
    superseded: int = 0
    filtered_out: int = 0
    integrity_failed: int = 0
    not_assessable: int = 0
    flipped: int = 0
    strength_changed: int = 0
    flips: list[FlipCount] = msgspec.field(default_factory=list)
    by_rule: dict[str, int] = msgspec.field(default_factory=dict)
    by_organization: dict[str, int] = msgspec.field(default_factory=dict)
    monthly_cost_change: Decimal = Decimal(0)
    monthly_cost_change_basis: str = ("sum over chains of the chosen option's monthly cost after minus before "
                                      "(chains where either is unpriced are left out)")
    not_assessable_examples: list[str] = msgspec.field(default_factory=list)
    seconds: float = 0.0


def _matches(where: ListFilter, row: Any) -> bool:
    """A chain head's columns (checked against its signed bytes) against the GET /assessments filters; the
    organization is applied in SQL (a chain keeps its profile, so its organisation)."""
    return ((where.decision is None or row.decision == where.decision)
            and (where.strength is None or row.strength == where.strength)
            and (where.requester is None or row.requester == where.requester)
            and (where.rules_digest is None or row.rules_digest == where.rules_digest)
            and (where.created_from is None or row.created_at >= where.created_from)
            and (where.created_to is None or row.created_at < where.created_to))


class Impact:
    """Replays chain heads against ``proposed`` and counts what changes."""

    def __init__(self, proposed: Advisor, replayer: Replayer, cache_size: int = 4096) -> None:
        self.proposed = proposed
        self.replayer = replayer
        self.cache_size = cache_size
        self._cache: OrderedDict[bytes, tuple[Drift | str, Recommendation]] = OrderedDict()
        self.report = Report(rules_digest=proposed.rulebook.digest,
                             catalogs={c.id: c.digest for c in proposed.catalogs.values()})
        self._flips: Counter[tuple[str, str]] = Counter()
        self._examples: dict[tuple[str, str], list[Example]] = {}
        self._by_rule: Counter[str] = Counter()
        self._by_org: Counter[str] = Counter()

    def _drift(self, recommendation: bytes) -> tuple[Drift | str, Recommendation]:
        key = sha256(recommendation).digest()  # equal stored recommendations replay equally: replay each once
        found = self._cache.get(key)
        if found is not None:
            self._cache.move_to_end(key)
            return found
        before = _recommendation.decode(recommendation)
        try:
            result: Drift | str = self.replayer.replay(before).drift
        except ProfileError as exc:
            result = f"{exc.field}: {exc.message}"
        self._cache[key] = (result, before)
        if len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return result, before

    def run(self, rows: Iterator[Any], where: ListFilter, tick: Callable[[int], None] = lambda n: None) -> Report:
        started = time.perf_counter()
        superseded: set[str] = set()
        report = self.report
        for row in rows:
            report.records_read += 1
            tick(report.records_read)
            raw = row.payload.encode("utf-8")
            columns = row._asdict()
            leaf = columns.pop("leaf")
            columns.pop("payload")
            if listed_failure(raw, row.hash, None if leaf is None else bytes(leaf), row.seq, columns) is not None:
                report.integrity_failed += 1
                continue
            link = _chain.decode(raw).recommendation.supersedes
            if link is not None:
                superseded.add(link)
            if row.id in superseded:
                superseded.discard(row.id)  # a chain has one link into each record: it is not needed again
                report.superseded += 1
                continue
            if not _matches(where, row):
                report.filtered_out += 1
                continue
            report.chains += 1
            drift, before = self._drift(bytes(_payload.decode(raw).recommendation))
            self._count(row.id, before, drift)
        report.seconds = time.perf_counter() - started
        return self._finish()

    def _count(self, record_id: str, before: Recommendation, drift: Drift | str) -> None:
        report = self.report
        org = before.profile.organization.name
        if isinstance(drift, str):
            report.not_assessable += 1
            if len(report.not_assessable_examples) < EXAMPLES:
                report.not_assessable_examples.append(f"{record_id}: {drift}")
            return
        chosen_before = next(o.before for o in drift.options if o.option == drift.decision_before)
        chosen_after = next(o.after for o in drift.options if o.option == drift.decision_after)
        change = None if chosen_before is None or chosen_after is None else chosen_after - chosen_before
        if change is not None:
            report.monthly_cost_change += change
        if drift.strength_before != drift.strength_after and not drift.flipped:
            report.strength_changed += 1
        if not drift.flipped:
            return
        report.flipped += 1
        pair = (drift.decision_before, drift.decision_after)
        self._flips[pair] += 1
        rules = drift.rules_newly_firing + drift.rules_stopped_firing
        cause = drift.flip_cause or "unknown"
        causes: tuple[str, ...] = ()
        if drift.flip_cause in ("rules", "both"):
            causes += rules or ("(rules: no rule id changed; a rule's effect did)",)
        if drift.flip_cause in ("prices", "both"):
            causes += (PRICES,)
        if drift.flip_cause is None:
            causes = (UNSPLIT,)
        self._by_rule.update(causes)
        self._by_org[org] += 1
        examples = self._examples.setdefault(pair, [])
        if len(examples) < EXAMPLES:
            examples.append(Example(id=record_id, organization=org, before=pair[0], after=pair[1], cause=cause,
                                    rules=rules, monthly_change=change))

    def _finish(self) -> Report:
        report = self.report
        report.flips = [FlipCount(before=b, after=a, count=n, examples=tuple(self._examples[(b, a)]))
                        for (b, a), n in self._flips.most_common()]
        report.by_rule = dict(self._by_rule.most_common())
        report.by_organization = dict(self._by_org.most_common(TOP))
        return report


def render_text(report: Report) -> str:
    lines = [f"proposed rules {report.rules_digest}",
             *(f"proposed catalog {cid} {digest}" for cid, digest in sorted(report.catalogs.items())),
             f"{report.records_read} records read: {report.chains} latest of their chain replayed, "
             f"{report.superseded} superseded, {report.filtered_out} filtered out, "
             f"{report.integrity_failed} failed their integrity check (not replayed)",
             f"{report.flipped} decisions flip; {report.strength_changed} more change strength only; "
             f"{report.not_assessable} cannot be assessed under the proposal",
             f"total monthly cost change of the chosen options: {report.monthly_cost_change:+,.2f} USD"]
    for flip in report.flips:
        lines.append(f"  {flip.before} -> {flip.after}: {flip.count}")
        lines.extend(f"    e.g. {e.id} ({e.organization}): {e.cause}"
                     + (f", rules {', '.join(e.rules)}" if e.rules else "")
                     + ("" if e.monthly_change is None else f", {e.monthly_change:+,.2f} USD/month")
                     for e in flip.examples)
    if report.by_rule:
        lines.append("flips by cause:")
        lines.extend(f"  {name}: {n}" for name, n in report.by_rule.items())
    if report.by_organization:
        lines.append(f"flips by organisation (top {TOP}):")
        lines.extend(f"  {name}: {n}" for name, n in report.by_organization.items())
    lines.extend(f"  cannot assess {line}" for line in report.not_assessable_examples)
    lines.append(f"{report.records_read / report.seconds if report.seconds else 0:,.0f} records/s")
    return "\n".join(lines)


class Progress:
    """A progress line on stderr: rewritten in place on a terminal, a line every 10% otherwise."""

    def __init__(self, total: int, out: TextIO) -> None:
        self.total = max(total, 1)
        self.out = out
        self.tty = out.isatty()
        self.started = time.monotonic()
        self._next_at = 0.0
        self._next_share = 0.1

    def __call__(self, done: int) -> None:
        now = time.monotonic()
        share = done / self.total
        if self.tty and (now < self._next_at and done != self.total):
            return
        if not self.tty and share < self._next_share and done != self.total:
            return
        self._next_at, self._next_share = now + 0.2, share + 0.1
        rate = done / max(now - self.started, 1e-9)
        filled = int(30 * min(share, 1.0))
        line = f"[{'#' * filled}{'.' * (30 - filled)}] {done}/{self.total} records, {rate:,.0f}/s"
        self.out.write(("\r" + line) if self.tty else line + "\n")
        if self.tty and done >= self.total:
            self.out.write("\n")
        self.out.flush()


def _filters(args: argparse.Namespace) -> ListFilter:
    from advisor.api.rfc3339 import parse_rfc3339

    stored = "%Y-%m-%dT%H:%M:%S.%fZ"  # as created_at is stored (advisor.api.audit.STORED_TIME)
    times = {name: None if getattr(args, name) is None else parse_rfc3339(getattr(args, name)).strftime(stored)
             for name in ("created_from", "created_to")}
    return ListFilter(organization=args.organization, decision=args.decision, strength=args.strength,
                      requester=args.requester, rules_digest=args.rules_digest, **times)




def cmd_impact(args: argparse.Namespace, settings: Settings) -> int:
    """``advisor impact`` (the parser is in cli/main.py): the report on stdout, the progress bar on stderr."""
    from advisor.store.database import Database

    try:
        where = _filters(args)
    except ValueError as exc:
        print(f"impact: {exc}", file=sys.stderr)
        return EXIT_USAGE
    rules_dir, catalogs_dir = args.rules or settings.rules_dir, args.catalogs or settings.catalogs_dir
    for what, directory in (("--rules", rules_dir), ("--catalogs", catalogs_dir)):
        if not directory.is_dir():
            print(f"impact: {what} {directory} is not a directory", file=sys.stderr)
            return EXIT_USAGE
    try:
        proposed = build_advisor(msgspec.structs.replace(settings, rules_dir=rules_dir, catalogs_dir=catalogs_dir))
        current = [load_rulebook(settings.rules_dir)] if settings.rules_dir.is_dir() else []
    except (RulebookError, ValueError, OSError) as exc:
        print(f"impact: the proposed rules or catalogs do not load: {exc}", file=sys.stderr)
        return EXIT_USAGE
    db = Database.open(settings)
    try:
        replayer = Replayer(proposed, VersionStore(db.engine), known=current)
        records = RecordStream(db.engine, where.organization)
        tick: Callable[[int], None] = (lambda n: None) if args.no_progress else Progress(records.count(), sys.stderr)
        report = Impact(proposed, replayer).run(records.newest_first(BATCH), where, tick)
    finally:
        db.dispose()
    if args.json:
        sys.stdout.write(msgspec.json.format(msgspec.json.encode(report)).decode() + "\n")
    else:
        print(render_text(report))
    return EXIT_FLIPS if report.flipped else EXIT_NO_FLIP
