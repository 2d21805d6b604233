"""The walk along the chain: sequence, links, time order and the anchors' hashes and roots."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple, Protocol

from advisor.audit.formats import GENESIS_HASH
from advisor.audit.merkle import Frontier
from advisor.audit.verify.heads import Pending
from advisor.audit.verify.model import Failure, Kind, Problem


class Anchor(NamedTuple):
    """What the log must match at ``size``: the chain's head hash there, the Merkle root of its first
    ``size`` records (RFC 9162), or both (None: not checked). A verified checkpoint has a root; the
    database's own head has both."""

    size: int
    hash: str | None
    label: str
    root: str | None = None  # hex
    kind: Kind = "truncated"  # what a different root means (a stored head's: its records were edited)


class ChainFields(Protocol):
    """What the chain walk reads of a record: a ``StoredRecord``, or the ``Link`` a worker sends back."""

    @property
    def seq(self) -> int: ...
    @property
    def prev_hash(self) -> str: ...
    @property
    def hash(self) -> str: ...
    @property
    def created_at(self) -> str | None: ...


class Link(NamedTuple):
    """A record's place in the chain, without its bytes."""

    seq: int
    prev_hash: str
    hash: str
    created_at: str | None

    @classmethod
    def of(cls, record: ChainFields) -> Link:
        return cls(record.seq, record.prev_hash, record.hash, record.created_at)


class ChainWalk:
    """The sequential half: sequence, links and anchors, over columns already tied to the signed bytes."""

    def __init__(self, anchors: Sequence[Anchor] = ()) -> None:
        self.seq = 0
        self.hash = GENESIS_HASH
        self.created_at: str | None = None
        self.count = 0
        self.anchors: dict[int, list[Anchor]] = {}
        self.tree = Frontier()  # the Merkle tree over the sound records
        self.pending: Pending | None = None  # the first record without a JWS no verified head covers yet
        for anchor in anchors:
            self.anchor(anchor)

    def anchor(self, anchor: Anchor) -> None:
        """Check the log at ``anchor.size`` when it gets there (a stored head, as the walk reaches it)."""
        if anchor.size > 0:
            self.anchors.setdefault(anchor.size, []).append(anchor)

    def before(self, record: ChainFields) -> Failure | None:
        """Checks that outrank the record's own: what is missing or out of order comes first."""
        if record.seq > self.seq + 1:
            missing = f"{self.seq + 1}" if record.seq == self.seq + 2 else f"{self.seq + 1}..{record.seq - 1}"
            return Failure("predecessor", "deleted", f"record(s) {missing} are missing before record {record.seq}")
        if record.seq <= self.seq:
            return Failure("predecessor", "reordered", f"record {record.seq} comes after record {self.seq}")
        return None

    def after(self, record: ChainFields) -> Failure | None:
        """Checks that assume the record itself is sound: its link, and any anchor at its position."""
        if record.prev_hash != self.hash:
            return Failure("predecessor", "forged", f"validly signed but its prev_hash {record.prev_hash} is not "
                                                    f"record {self.seq}'s hash {self.hash}: a fork")
        if record.created_at is not None and self.created_at is not None and record.created_at < self.created_at:
            return Failure("predecessor", "reordered", f"created {record.created_at}, before record {self.seq} "
                                                       f"({self.created_at}): time runs backwards in the log")
        for anchor in self.anchors.get(record.seq, ()):
            if anchor.hash is not None and anchor.hash != record.hash:
                return Failure("checkpoint", "truncated", f"at size {anchor.size} the {anchor.label} has head "
                                                          f"{anchor.hash}, the log {record.hash}: rewritten after it")
        return None

    def grow(self, leaves: Sequence[bytes]) -> Problem | None:
        """Add sound records' leaf hashes to the Merkle tree; a problem at the first root an anchor disputes."""
        for digest in leaves:
            self.tree.append(digest)
            reached = self.anchors.pop(self.tree.size, None)  # passed: kept no longer (memory stays flat)
            for anchor in reached or ():
                root = self.tree.root().hex()
                if anchor.root is not None and anchor.root != root:
                    return Problem(seq=self.tree.size, kind=anchor.kind,
                                   detail=f"at size {anchor.size} the {anchor.label} has Merkle root {anchor.root}, "
                                          f"the log {root}: " + ("rewritten after it" if anchor.kind == "truncated"
                                                                 else "records before it changed after it was signed"))
        return None

    def advance(self, record: ChainFields, count: int = 1) -> None:
        """Move past ``record``, the last of ``count`` sound records."""
        self.seq, self.hash, self.count = record.seq, record.hash, self.count + count
        self.created_at = record.created_at

    def at_end(self) -> Problem | None:
        for size in sorted(self.anchors):
            if size > self.seq:
                anchor = self.anchors[size][0]
                return Problem(seq=self.seq + 1, kind="truncated",
                               detail=f"the {anchor.label} says the log had {size} records; it has {self.seq}")
        if self.pending is not None:
            return Problem(seq=self.pending.seq, kind="unsigned",
                           detail=f"record {self.pending.seq} has no JWS of its own and no signed checkpoint at or "
                                  "after it is stored: the checkpoints of its commit and every later one are missing")
        return None
