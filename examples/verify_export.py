"""Verify an `advisor export` with nothing but the exported files, the standard library and joserfc.

    pip install joserfc
    python verify_export.py audit.jsonl audit.jwks.json [checkpoint.json]

Independent of the advisor's own code: every signature (JWS, Ed25519), every hash, every link,
every key's validity window, and, given a checkpoint (a C2SP signed note over origin, size and the
RFC 9162 Merkle root), that the Merkle tree of the log's first records still has that root.
Exits 1 with the first problem.
"""

import base64
import hashlib
import json
import sys
import warnings
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from joserfc import jws
from joserfc.jwk import KeySet


def fail(seq, why):
    sys.exit(f"record {seq}: {why}")


def b64url(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def main(export, jwks_file, checkpoint_file=None):
    jwks = json.load(open(jwks_file))
    keys = KeySet.import_key_set(jwks)
    windows = {k["kid"]: (k.get("nbf"), k.get("exp")) for k in jwks["keys"]}
    size, root = 0, None
    if checkpoint_file:  # a C2SP signed note: "origin\nsize\nbase64 root\n", a blank line, signature lines
        note = json.load(open(checkpoint_file))["note"]
        text, _, signatures = note.partition("\n\n")
        text += "\n"
        origin = text.split("\n")[0]
        for line in signatures.splitlines():
            blob = base64.b64decode(line.split(" ")[2])
            for k in jwks["keys"]:  # the note key hash: SHA-256(name || LF || 0x01 || key)[:4]
                raw = b64url(k["x"])
                if hashlib.sha256(origin.encode() + b"\n\x01" + raw).digest()[:4] == blob[:4]:
                    Ed25519PublicKey.from_public_bytes(raw).verify(blob[4:], text.encode())  # raises if bad
                    break
            else:
                continue
            break
        else:
            sys.exit("the checkpoint is signed by no key of the JWKS")
        lines = text.split("\n")
        size, root = int(lines[1]), base64.b64decode(lines[2])
    frontier = []  # RFC 9162: (subtree size, hash) of the tree's right edge; leaves 0x00-, nodes 0x01-prefixed
    warnings.filterwarnings("ignore", message="EdDSA is deprecated")  # RFC 9864's new name is Ed25519
    seq, prev = 0, "0" * 64
    for line in open(export, encoding="utf-8"):
        record = json.loads(line)
        try:
            token = jws.deserialize_compact(record["jws"], keys, algorithms=["EdDSA", "Ed25519"])
        except Exception as exc:
            fail(record["seq"], f"signature: {exc}")
        if token.payload != record["payload"].encode("utf-8"):
            fail(record["seq"], "the signed bytes are not the stored payload")
        if hashlib.sha256(token.payload).hexdigest() != record["hash"]:
            fail(record["seq"], "hash")
        signed = json.loads(token.payload)
        if not signed["seq"] == record["seq"] == seq + 1:
            fail(record["seq"], f"sequence: expected {seq + 1}")
        if not signed["prev_hash"] == record["prev_hash"] == prev:
            fail(record["seq"], "does not link to the previous record")
        nbf, exp = windows[token.protected["kid"]]
        created = datetime.fromisoformat(signed["created_at"])
        if (nbf and created < datetime.fromisoformat(nbf)) or (exp and created > datetime.fromisoformat(exp)):
            fail(record["seq"], "signed outside its key's validity window")
        frontier.append((1, hashlib.sha256(b"\x00" + token.payload).digest()))
        while len(frontier) > 1 and frontier[-1][0] == frontier[-2][0]:
            (width, left), (_, right) = frontier[-2], frontier.pop()
            frontier[-1] = (2 * width, hashlib.sha256(b"\x01" + left + right).digest())
        if seq + 1 == size:
            tree_root = frontier[-1][1]
            for _, left in reversed(frontier[:-1]):
                tree_root = hashlib.sha256(b"\x01" + left + tree_root).digest()
            if tree_root != root:
                fail(size, "the log differs from the checkpoint at its size (Merkle root)")
        seq, prev = record["seq"], record["hash"]
    if size > seq:
        fail(seq + 1, f"truncated: the checkpoint says {size} records")
    print(f"ok: {seq} records, head {prev}" + (f", Merkle root {root.hex()} at size {size}" if root else ""))


if __name__ == "__main__":
    main(*sys.argv[1:])
