"""Merkle log costs: a consistency proof between checkpoints far apart, and the size of 201 bodies and receipts.

Usage: .venv/bin/python -m bench.merkle_bench [--old 1000000] [--new 2000000] [--chain-sample 20000]

1. Consistency: the RFC 9162 proof from ``--old`` to ``--new`` records (default 1M apart) is built from
   the perfect-subtree hashes a store would hold (computed here from synthetic leaves), then verified;
   CPU time per verification (``time.process_time``, best of many) against the baseline an auditor had
   with the chain alone: re-hashing every record in between (measured on ``--chain-sample`` records of a
   real record's size in this run, scaled linearly to the gap; labelled as scaled).
2. Sizes: each shipped example posted to the real app (in-process, fresh SQLite): the 201 body, its
   receipt, the ``Prefer: return=minimal`` body, against the previous format measured in this run (the
   receipt carrying the compact JWS with its payload attached: the assessment a second time). The
   receipt's inclusion path grows with log2(n): its size at 1M records is given too.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from advisor.audit.jws import sign_compact
from advisor.audit.keys import SigningKey
from advisor.audit.merkle import (
    Node,
    consistency_proof,
    consistency_ranges,
    frontier_nodes,
    frontier_root,
    leaf_hash,
    node_hash,
    nodes_for,
    verify_consistency,
)


def synthetic_leaf(index: int) -> bytes:
    return leaf_hash(index.to_bytes(8, "big"))


def subtree(level: int, index: int) -> bytes:
    """The hash of a perfect subtree of synthetic leaves, computed bottom-up in O(2**level) time, O(level) memory."""
    start = index << level
    stack: list[tuple[int, bytes]] = []
    for i in range(start, start + (1 << level)):
        height, digest = 0, synthetic_leaf(i)
        while stack and stack[-1][0] == height:
            digest = node_hash(stack.pop()[1], digest)
            height += 1
        stack.append((height, digest))
    return stack[0][1]


def best_cpu(work: Callable[[], Any], repeat: int) -> float:
    """The smallest CPU time of one call, in seconds."""
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time()
        work()
        best = min(best, time.process_time() - started)
    return best


def consistency(old: int, new: int, sample: int, payload_size: int) -> None:
    wanted = nodes_for(consistency_ranges(old, new)) | set(frontier_nodes(old)) | set(frontier_nodes(new))
    started = time.perf_counter()
    stored: dict[Node, bytes] = {node: subtree(*node) for node in wanted}
    print(f"built the {len(stored)} stored nodes a proof from {old:,} to {new:,} reads "
          f"({time.perf_counter() - started:.1f} s, synthetic leaves)")
    old_root = frontier_root([stored[n] for n in frontier_nodes(old)])
    new_root = frontier_root([stored[n] for n in frontier_nodes(new)])
    proof = consistency_proof(old, new, stored)
    build = best_cpu(lambda: consistency_proof(old, new, stored), 200)
    check = best_cpu(lambda: verify_consistency(old, new, old_root, new_root, proof), 200)
    record = b"x" * payload_size
    per_record = best_cpu(lambda: [hashlib.sha256(record).digest() for _ in range(sample)], 3) / sample
    chain = per_record * (new - old)
    print(f"consistency proof: {len(proof)} hashes ({len(proof) * 32} bytes); build from stored nodes "
          f"{build * 1e6:.0f} us CPU, verify {check * 1e6:.0f} us CPU (target < 10 ms)")
    print(f"baseline (chain only): re-hash {new - old:,} records of {payload_size:,} bytes: "
          f"{per_record * 1e6:.1f} us each measured on {sample:,}, scaled: {chain:.1f} s CPU")
    print(f"ratio verify / baseline: 1 : {chain / check:,.0f}")


def sizes() -> None:
    from litestar.testing import TestClient

    from advisor.audit.record import signed_payload
    from advisor.settings import Settings
    from tests.api.test_examples import EXAMPLES
    from tests.conftest import authorised, issue_key, running_app

    scratch = Path(tempfile.mkdtemp(prefix="merkle-bench-"))
    settings = Settings(database_url=f"sqlite:///{scratch}/bench.db", keys_dir=scratch / "keys", evaluators=0,
                        writer_process=False, rate_limit_per_minute=0)
    rows = []
    same_kind = SigningKey(Ed25519PrivateKey.generate())
    with running_app(settings) as app, TestClient(app) as client:
        authorised(client, issue_key(app, "assessor", "bench"))
        for name, profile, _, _ in EXAMPLES:
            full = client.post("/assess", json=profile)
            minimal = client.post("/assess", json=profile, headers={"Prefer": "return=minimal"})
            receipt = full.json()["receipt"]
            payload = signed_payload(full.content)
            # The receipt before the Merkle tree: seq, hashes, key and the record's compact JWS with its payload
            # attached (signed here with a key of the same kind: the same length as the writer's was).
            previous = {k: receipt[k] for k in ("seq", "hash", "prev_hash", "key_id")}
            previous["jws"] = sign_compact(same_kind, payload)
            old_body = len(full.content) - len(msgspec.json.encode(receipt)) + len(msgspec.json.encode(previous))
            rows.append((name.split(" ")[0], len(full.content), len(msgspec.json.encode(receipt)),
                         len(minimal.content), old_body, len(msgspec.json.encode(previous))))
        size = receipt["tree_size"]
    print(f"\n201 bodies of the shipped examples (each receipt: its commit's checkpoint, here of {size} records):")
    print("example  201 body  receipt  minimal 201 | previous 201  previous receipt  body ratio")
    for name, body_size, receipt_size, minimal_size, old_body, old_receipt in rows:
        print(f"{name:>7}  {body_size:8,}  {receipt_size:7,}  {minimal_size:11,} | {old_body:12,}  "
              f"{old_receipt:16,}  {body_size / old_body:.2f}")
    path_hash = len(base64.b64encode(b"\0" * 32)) + 3
    at_million = rows[-1][2] + (20 - len(receipt["inclusion_path"] or [])) * path_hash
    print(f"receipt at 1,048,576 records (20 path hashes): {at_million:,} bytes (limit 2,048)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--old", type=int, default=1_000_000)
    parser.add_argument("--new", type=int, default=2_000_000)
    parser.add_argument("--chain-sample", type=int, default=20_000)
    parser.add_argument("--payload-size", type=int, default=13_400, help="bytes of one record (a shipped example)")
    args = parser.parse_args()
    consistency(args.old, args.new, args.chain_sample, args.payload_size)
    sizes()


if __name__ == "__main__":
    main()
