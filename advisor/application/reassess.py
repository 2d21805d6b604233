"""Reassess a stored record: its profile under today's (or proposed) rules and catalog, with drift.

Used by ``POST /assessments/{id}/reassess`` and by ``advisor impact``. The split of each cost
change into price and rule effects needs the *old* rules replayed with the *new* catalog: the old
rulebook comes from the kept versions (``store/versions.py``), is built once per digest and reused.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from typing import NamedTuple

import msgspec

from advisor.application.evaluate import Advisor, ProfileError
from advisor.application.ports import KeptRulebooks
from advisor.audit.record import Assessment
from advisor.domain.drift import Drift, drift
from advisor.domain.recommendation import Recommendation
from advisor.domain.rules import Rulebook
from advisor.rules.engine import RuleEngine

_assessment = msgspec.json.Decoder(Assessment)


def stored_assessment(body: bytes) -> Assessment:
    """A served record (``Repository.get``) as a struct, to replay its profile and compare with it."""
    return _assessment.decode(body)


class Replayed(NamedTuple):
    """A profile evaluated again: the new recommendation and how it drifted from the stored one."""

    recommendation: Recommendation
    drift: Drift


class Replayer:
    """Evaluates stored profiles with ``current`` (today's or a proposed advisor) and explains the drift.

    ``versions`` finds the rulebooks of past records; ``known`` are rulebooks at hand (the server's
    own), found without asking the database. At most ``cache_size`` old rulebooks are kept built:
    each holds a rule engine.
    """

    def __init__(self, current: Advisor, versions: KeptRulebooks | None, known: Iterable[Rulebook] = (),
                 cache_size: int = 8) -> None:
        self.current = current
        self.versions = versions
        self.known = {book.digest: book for book in known}
        self.cache_size = cache_size
        self._bridges: OrderedDict[str, Advisor | str] = OrderedDict()
        self._lock = threading.Lock()  # requests replay in worker threads; a rulebook is built once

    def _bridge_advisor(self, digest: str) -> Advisor | str:
        """An advisor with the rules of ``digest`` and the current catalogs, or why there is none."""
        if digest == self.current.rulebook.digest:
            return self.current
        with self._lock:
            return self._bridge_locked(digest)

    def _bridge_locked(self, digest: str) -> Advisor | str:
        if digest in self._bridges:
            self._bridges.move_to_end(digest)
            return self._bridges[digest]
        found: Advisor | str
        book = self.known.get(digest)
        if book is None and self.versions is not None:
            book = self.versions.rulebook(digest)
        if book is None:
            found = (f"rulebook {digest} was not kept (records written before rule versions were kept, revision "
                     "0005, name rules that are unknown unless they are still in use): the change is not split")
        else:
            now = self.current
            try:
                found = Advisor(book, RuleEngine(book), now.catalogs, now.default_catalog, now.regions)
            except ValueError as exc:
                found = f"the old rules cannot run with the new catalogs ({exc}): the change is not split"
        self._bridges[digest] = found
        if len(self._bridges) > self.cache_size:
            self._bridges.popitem(last=False)
        return found

    def replay(self, before: Recommendation) -> Replayed:
        """``before``'s profile evaluated by the current advisor; raises ``ProfileError`` when it cannot be."""
        after = self.current.assess(before.profile)
        return Replayed(after, self.drift(before, after))

    def drift(self, before: Recommendation, after: Recommendation) -> Drift:
        bridge_advisor = self._bridge_advisor(before.versions.rules_digest)
        if isinstance(bridge_advisor, str):
            return drift(before, after, None, bridge_advisor)
        if bridge_advisor is self.current:
            bridge: Recommendation | None = after
            basis = "the rules are unchanged: every change is a price effect"
        else:
            try:
                bridge = bridge_advisor.assess(before.profile)
                basis = (f"the old rules ({before.versions.rules_digest}) replayed with the new catalog give the "
                         "price effect; the rest is the rule effect")
            except ProfileError as exc:
                bridge, basis = None, f"the old rules cannot assess the profile with the new catalog: {exc.message}"
        return drift(before, after, bridge, basis)
