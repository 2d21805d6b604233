"""The RFC 9162 tree on its own: published test vectors, an independent implementation (pymerkle), bad proofs."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pymerkle import InclusionProof, InmemoryTree, InvalidProof
from pymerkle import verify_consistency as pymerkle_verify_consistency
from pymerkle import verify_inclusion as pymerkle_verify_inclusion
from pymerkle.core import _inclusion_path_layout

from advisor.audit.merkle import (
    EMPTY_ROOT,
    Node,
    ProofError,
    batch_inclusion_proofs,
    consistency_proof,
    extend,
    frontier_nodes,
    frontier_root,
    inclusion_proof,
    leaf_hash,
    root_of,
    verify_consistency,
    verify_inclusion,
)

# The reference tree of RFC 6962 implementations (transparency-dev/merkle proof/verify_test.go, from the
# certificate-transparency C++ tests): eight leaves, the root at every size, and known proofs.
LEAVES = [bytes.fromhex(h) for h in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                                     "606162636465666768696a6b6c6d6e6f")]
ROOTS = [bytes.fromhex(h) for h in (
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328")]
INCLUSION = [  # (1-based leaf, tree size, proof)
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (3, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (2, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]
CONSISTENCY = [
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
    (6, 7, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
]


def stored_tree(leaves: list[bytes]) -> dict[Node, bytes]:
    """Every perfect subtree's hash, as the writer stores them, built by appending in uneven batches."""
    stored: dict[Node, bytes] = {}
    frontier: list[bytes] = []
    size = 0
    for start in range(0, len(leaves), 3):
        batch = leaves[start:start + 3]
        created, frontier = extend(size, frontier, batch)
        stored.update({(level, index): digest for level, index, digest in created})
        size += len(batch)
        assert frontier == [stored[node] for node in frontier_nodes(size)]
    return stored


def test_the_published_roots_and_proofs_are_reproduced() -> None:
    hashes = [leaf_hash(leaf) for leaf in LEAVES]
    stored = stored_tree(hashes)
    assert root_of([]) == frontier_root([]) == EMPTY_ROOT
    for size in range(1, 9):
        assert root_of(hashes[:size]) == ROOTS[size - 1]
        assert frontier_root([stored[node] for node in frontier_nodes(size)]) == ROOTS[size - 1]
    for leaf, size, proof in INCLUSION:
        assert inclusion_proof(leaf - 1, size, stored) == [bytes.fromhex(h) for h in proof]
        verify_inclusion(leaf - 1, size, hashes[leaf - 1], [bytes.fromhex(h) for h in proof], ROOTS[size - 1])
    for old, new, proof in CONSISTENCY:
        assert consistency_proof(old, new, stored) == [bytes.fromhex(h) for h in proof]
        verify_consistency(old, new, ROOTS[old - 1], ROOTS[new - 1], [bytes.fromhex(h) for h in proof])


def pymerkle_accepts_inclusion(index: int, size: int, leaf: bytes, path: list[bytes], root: bytes) -> bool:
    """pymerkle's own verifier on our RFC 9162 audit path (its proofs carry the leaf first and a rule list)."""
    rule, _ = _inclusion_path_layout(index + 1, size)
    try:
        pymerkle_verify_inclusion(leaf, root, InclusionProof("sha256", True, size, index + 1, rule, [leaf, *path]),
                                  index=index + 1, size=size)
    except InvalidProof:
        return False
    return True


@given(st.lists(st.binary(max_size=40), min_size=1, max_size=40), st.data())
def test_an_independent_implementation_agrees(entries: list[bytes], data: st.DataObject) -> None:
    """pymerkle builds its own tree from the same bytes: same roots, and it verifies our inclusion proofs;
    its consistency proofs (its own layout) verify against our roots."""
    reference = InmemoryTree()
    for entry in entries:
        reference.append_entry(entry)
    hashes = [leaf_hash(entry) for entry in entries]
    stored = stored_tree(hashes)
    size = data.draw(st.integers(1, len(entries)))
    root = frontier_root([stored[node] for node in frontier_nodes(size)])
    assert root == reference.get_root(size)
    index = data.draw(st.integers(0, size - 1))
    path = inclusion_proof(index, size, stored)
    assert pymerkle_accepts_inclusion(index, size, hashes[index], path, root)
    assert not pymerkle_accepts_inclusion(index, size, leaf_hash(b"not " + entries[index]), path, root)
    old = data.draw(st.integers(1, size))
    old_root = frontier_root([stored[node] for node in frontier_nodes(old)])
    pymerkle_verify_consistency(old_root, root, reference.prove_consistency(old, size))
    verify_consistency(old, size, old_root, root, consistency_proof(old, size, stored))


def test_every_proof_in_small_trees_verifies_and_every_altered_one_fails() -> None:
    hashes = [leaf_hash(bytes([i])) for i in range(33)]
    stored = stored_tree(hashes)
    roots = [frontier_root([stored[node] for node in frontier_nodes(n)]) for n in range(34)]
    for size in range(1, 34):
        assert roots[size] == root_of(hashes[:size])
        for index in range(size):
            path = inclusion_proof(index, size, stored)
            verify_inclusion(index, size, hashes[index], path, roots[size])
            for wrong in ([*path, roots[size]], path[:-1], [roots[0], *path]):
                if wrong != path:
                    with pytest.raises(ProofError):
                        verify_inclusion(index, size, hashes[index], wrong, roots[size])
            if size > 1:
                with pytest.raises(ProofError):
                    verify_inclusion((index + 1) % size, size, hashes[index], path, roots[size])
        for old in range(1, size + 1):
            proof = consistency_proof(old, size, stored)
            verify_consistency(old, size, roots[old], roots[size], proof)
            for flipped in range(len(proof)):
                bad = list(proof)
                bad[flipped] = bytes([bad[flipped][0] ^ 16]) + bad[flipped][1:]
                with pytest.raises(ProofError):
                    verify_consistency(old, size, roots[old], roots[size], bad)
            if old < size:
                with pytest.raises(ProofError):  # a different history of the same length
                    verify_consistency(old, size, leaf_hash(b"forged"), roots[size], proof)
                with pytest.raises(ProofError):
                    verify_consistency(old, size, roots[old], roots[size], proof[:-1])


def test_impossible_requests_are_refused() -> None:
    with pytest.raises(ProofError):
        inclusion_proof(5, 5, {})
    with pytest.raises(ProofError):
        consistency_proof(0, 5, {})
    with pytest.raises(ProofError):
        verify_consistency(6, 5, ROOTS[5], ROOTS[4], [])
    with pytest.raises(ProofError):
        verify_inclusion(0, 1, b"short", [], ROOTS[0])


def test_a_commit_proves_its_own_leaves_from_the_frontier_alone() -> None:
    """The writer's proofs (frontier plus the batch, nothing else read) equal proofs from the whole stored tree,
    for every size a commit can start at and every batch length up to 33, and each verifies against the root."""
    leaves = [leaf_hash(b"%d" % i) for i in range(80)]
    whole = stored_tree(leaves)
    for size in range(48):
        frontier = [whole[node] for node in frontier_nodes(size)]
        for count in range(1, 34):
            batch = leaves[size:size + count]
            created, new_frontier, paths = batch_inclusion_proofs(size, frontier, batch)
            end = size + count
            assert (created, new_frontier) == extend(size, frontier, batch)
            root = root_of(leaves[:end])
            assert frontier_root(new_frontier) == root
            for index, path in zip(range(size, end), paths, strict=True):
                assert path == inclusion_proof(index, end, whole)
                verify_inclusion(index, end, leaves[index], path, root)
