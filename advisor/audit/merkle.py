"""The RFC 9162 (Certificate Transparency v2) Merkle tree over the log's records: pure hashing and proofs.

Leaf ``i`` (0-based) is record ``seq = i + 1``; its hash is ``SHA-256(0x00 || payload)`` over the
record's canonical bytes exactly as stored, and an interior node is ``SHA-256(0x01 || left || right)``.

Storage-agnostic: a *perfect* subtree (``2**level`` leaves starting at ``index * 2**level``) is named
``(level, index)``; the store keeps one hash per perfect subtree, written once when it fills up. Every
hash a proof needs is the root of a leaf range, and every such range is a few perfect subtrees, so a
proof is ``O(log n)`` stored hashes: ``*_ranges`` says which ranges, ``nodes_for`` which subtrees,
``range_hash`` folds them. Verification follows RFC 9162 sections 2.1.3.2 and 2.1.4.2 to the letter.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

Node = tuple[int, int]  # (level, index): the perfect subtree over leaves [index << level, (index + 1) << level)
Range = tuple[int, int]  # leaves [start, end)


class ProofError(ValueError):
    """A proof that does not verify, or a request no proof can answer (an index or size out of range)."""


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(width: int) -> int:
    """The largest power of two smaller than ``width`` (``width`` > 1): the left subtree's size."""
    return 1 << ((width - 1).bit_length() - 1)


def root_of(leaves: Sequence[bytes]) -> bytes:
    """MTH over leaf hashes, by the RFC's recursive definition (for tests and small trees)."""
    if not leaves:
        return EMPTY_ROOT
    if len(leaves) == 1:
        return leaves[0]
    k = _split(len(leaves))
    return node_hash(root_of(leaves[:k]), root_of(leaves[k:]))


# --- which hashes a proof needs --------------------------------------------------------------------


def inclusion_ranges(index: int, size: int) -> list[Range]:
    """The leaf ranges whose roots make up PATH(index, D[size]), in proof order (leaf to root)."""
    if not 0 <= index < size:
        raise ProofError(f"leaf {index} is not in a tree of size {size}")
    found: list[Range] = []
    start, end = 0, size
    while end - start > 1:
        k = _split(end - start)
        if index < start + k:
            found.append((start + k, end))
            end = start + k
        else:
            found.append((start, start + k))
            start += k
    found.reverse()
    return found


def consistency_ranges(old: int, new: int) -> list[Range]:
    """The leaf ranges whose roots make up PROOF(old, D[new]) (RFC 9162 2.1.4.1), in proof order."""
    if not 0 < old <= new:
        raise ProofError(f"no consistency proof from size {old} to size {new}")
    found: list[Range] = []
    start, end, complete = 0, new, True
    while True:
        if old - start == end - start:  # this subtree is the old tree's, whole
            if not complete:
                found.append((start, end))
            break
        k = _split(end - start)
        if old - start <= k:
            found.append((start + k, end))
            end = start + k
        else:
            found.append((start, start + k))
            start += k
            complete = False
    found.reverse()
    return found


def range_nodes(start: int, end: int) -> list[Node]:
    """The perfect subtrees whose hashes give MTH(D[start:end]), left to right."""
    nodes: list[Node] = []
    while end > start:
        width = end - start
        if width & (width - 1) == 0 and start % width == 0:
            nodes.append((width.bit_length() - 1, start // width))
            break
        k = _split(width)
        if start % k:  # never for the ranges of a proof: every subtree starts at a multiple of its size
            raise ProofError(f"range [{start}, {end}) is not a subtree of an RFC 9162 tree")
        nodes.append((k.bit_length() - 1, start // k))
        start += k
    return nodes


def nodes_for(ranges: Iterable[Range]) -> set[Node]:
    return {node for start, end in ranges for node in range_nodes(start, end)}


def range_hash(start: int, end: int, stored: Mapping[Node, bytes]) -> bytes:
    """MTH(D[start:end]) from stored perfect-subtree hashes (``KeyError`` if one is missing)."""
    hashes = [stored[node] for node in range_nodes(start, end)]
    if not hashes:
        return EMPTY_ROOT
    result = hashes[-1]
    for left in reversed(hashes[:-1]):
        result = node_hash(left, result)
    return result


# --- appending: the frontier ---------------------------------------------------------------------


def frontier_nodes(size: int) -> list[Node]:
    """The perfect subtrees along the right edge of a tree of ``size`` leaves, largest first."""
    nodes: list[Node] = []
    start = 0
    for level in range(size.bit_length() - 1, -1, -1):
        if size >> level & 1:
            nodes.append((level, start >> level))
            start += 1 << level
    return nodes


def frontier_root(hashes: Sequence[bytes]) -> bytes:
    """The tree's root from its frontier's hashes (largest subtree first)."""
    if not hashes:
        return EMPTY_ROOT
    result = hashes[-1]
    for left in reversed(hashes[:-1]):
        result = node_hash(left, result)
    return result


def extend(size: int, frontier: Sequence[bytes], leaves: Iterable[bytes]) -> tuple[list[tuple[int, int, bytes]],
                                                                                     list[bytes]]:
    """Append leaf hashes to a tree of ``size`` leaves with the given frontier.

    Returns every perfect subtree completed on the way (``(level, index, hash)``, leaves included),
    to store, and the new frontier's hashes.
    """
    stack = [(level, index, digest) for (level, index), digest in zip(frontier_nodes(size), frontier, strict=True)]
    created: list[tuple[int, int, bytes]] = []
    for digest in leaves:
        node = (0, size, digest)
        created.append(node)
        size += 1
        while stack and stack[-1][0] == node[0]:
            left = stack.pop()
            node = (node[0] + 1, left[1] >> 1, node_hash(left[2], node[2]))
            created.append(node)
        stack.append(node)
    return created, [digest for _, _, digest in stack]


def batch_inclusion_proofs(size: int, frontier: Sequence[bytes], leaves: Sequence[bytes]
                           ) -> tuple[list[tuple[int, int, bytes]], list[bytes], list[list[bytes]]]:
    """``extend``, and the inclusion proof of every appended leaf in the tree it ends (``size + len(leaves)``).

    No stored hash is needed beyond the frontier: a perfect subtree on the path of a new leaf either holds a
    new leaf (so ``extend`` completed it just now) or lies wholly before ``size``, and then it is a frontier
    node (its parent holds leaves on both sides of ``size``, so bit ``level`` of ``size`` is set and the
    frontier's subtree at that level is this one). The writer answers each record with its proof this way.
    """
    created, new_frontier = extend(size, frontier, leaves)
    known: dict[Node, bytes] = dict(zip(frontier_nodes(size), frontier, strict=True))
    known.update(((level, index), digest) for level, index, digest in created)
    end = size + len(leaves)
    return created, new_frontier, [inclusion_proof(index, end, known) for index in range(size, end)]


class Frontier:
    """A growing tree's right edge, one leaf at a time (the verifier's walk): ``O(log n)`` memory."""

    def __init__(self) -> None:
        self.size = 0
        self._stack: list[tuple[int, bytes]] = []  # (level, hash), largest subtree first

    def append(self, leaf: bytes) -> None:
        level, digest = 0, leaf
        while self._stack and self._stack[-1][0] == level:
            digest = node_hash(self._stack.pop()[1], digest)
            level += 1
        self._stack.append((level, digest))
        self.size += 1

    def root(self) -> bytes:
        return frontier_root([digest for _, digest in self._stack])


# --- verification (RFC 9162 2.1.3.2 and 2.1.4.2) ---------------------------------------------------


def _check_hashes(*hashes: bytes) -> None:
    if any(not isinstance(h, bytes) or len(h) != HASH_SIZE for h in hashes):
        raise ProofError("a hash in the proof is not 32 bytes")


def root_from_inclusion(index: int, size: int, leaf: bytes, path: Sequence[bytes]) -> bytes:
    """The root an inclusion proof leads to; ``ProofError`` if it is malformed for (index, size)."""
    if not 0 <= index < size:
        raise ProofError(f"leaf {index} is not in a tree of size {size}")
    _check_hashes(leaf, *path)
    fn, sn, result = index, size - 1, leaf
    for p in path:
        if sn == 0:
            raise ProofError("the inclusion proof is too long")
        if fn & 1 or fn == sn:
            result = node_hash(p, result)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            result = node_hash(result, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("the inclusion proof is too short")
    return result


def verify_inclusion(index: int, size: int, leaf: bytes, path: Sequence[bytes], root: bytes) -> None:
    """Raise ``ProofError`` unless ``path`` proves leaf hash ``leaf`` at ``index`` in the tree ``(size, root)``."""
    if root_from_inclusion(index, size, leaf, path) != root:
        raise ProofError("the inclusion proof does not lead to the checkpoint's root")


def verify_consistency(old: int, new: int, old_root: bytes, new_root: bytes, path: Sequence[bytes]) -> None:
    """Raise ``ProofError`` unless ``path`` proves the tree ``(new, new_root)`` extends ``(old, old_root)``."""
    _check_hashes(old_root, new_root, *path)
    if old > new or old < 0:
        raise ProofError(f"a log of size {new} cannot extend one of size {old}")
    if old == new:
        if path or old_root != new_root:
            raise ProofError("two checkpoints of the same size must have the same root and an empty proof")
        return
    if old == 0:
        if path:
            raise ProofError("the proof from an empty tree is empty")
        return
    if not path:
        raise ProofError("the consistency proof is empty")
    hashes = list(path)
    if old & (old - 1) == 0:  # a power of two: the old root is a node of the new tree
        hashes.insert(0, old_root)
    fn, sn = old - 1, new - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = hashes[0]
    for c in hashes[1:]:
        if sn == 0:
            raise ProofError("the consistency proof is too long")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("the consistency proof is too short")
    if fr != old_root:
        raise ProofError("the consistency proof does not lead to the older checkpoint's root: history was rewritten")
    if sr != new_root:
        raise ProofError("the consistency proof does not lead to the newer checkpoint's root")


# --- building proofs from stored hashes ------------------------------------------------------------


def inclusion_proof(index: int, size: int, stored: Mapping[Node, bytes]) -> list[bytes]:
    """PATH(index, D[size]) from the perfect-subtree hashes ``nodes_for(inclusion_ranges(index, size))``."""
    return [range_hash(start, end, stored) for start, end in inclusion_ranges(index, size)]


def consistency_proof(old: int, new: int, stored: Mapping[Node, bytes]) -> list[bytes]:
    """PROOF(old, D[new]) from the perfect-subtree hashes ``nodes_for(consistency_ranges(old, new))``."""
    if old == new:
        return []
    return [range_hash(start, end, stored) for start, end in consistency_ranges(old, new)]
