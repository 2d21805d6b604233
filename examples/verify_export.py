"""Verify an `advisor export` with nothing but the exported files, the standard library and joserfc.

    pip install joserfc
    python verify_export.py audit.jsonl audit.jwks.json [checkpoint.json]

Independent of the advisor's own code: every signature, every hash, every link, every key's validity
window, and, given a checkpoint (a C2SP signed note over origin, size and the RFC 9162 Merkle root),
that the Merkle tree of the log's first records still has that root. A record written before revision
0008 carries its own JWS (Ed25519); a later one is signed by its group commit's checkpoint, the
``{"size": N, "checkpoint": note}`` line after the commit's last record: the note's signature must
verify and its root must be the RFC 9162 root of the records up to N, which commits to every one of
them. Exits 1 with the first problem.
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


def verify_note(note, jwks):
    """(size, root, kid) of a C2SP signed note: "origin\\nsize\\nbase64 root\\n", a blank line, signature lines."""
    text, _, signatures = note.partition("\n\n")
    text += "\n"
    origin = text.split("\n")[0]
    for line in signatures.splitlines():
        blob = base64.b64decode(line.split(" ")[2])
        for k in jwks["keys"]:  # the note key hash: SHA-256(name || LF || 0x01 || key)[:4]
            raw = b64url(k["x"])
            if hashlib.sha256(origin.encode() + b"\n\x01" + raw).digest()[:4] == blob[:4]:
                Ed25519PublicKey.from_public_bytes(raw).verify(blob[4:], text.encode())  # raises if bad
                lines = text.split("\n")
                return int(lines[1]), base64.b64decode(lines[2]), k["kid"]
    return None


def root_of(frontier):
    tree_root = frontier[-1][1]
    for _, left in reversed(frontier[:-1]):
        tree_root = hashlib.sha256(b"\x01" + left + tree_root).digest()
    return tree_root


def in_window(windows, kid, created_at):
    nbf, exp = windows[kid]
    created = datetime.fromisoformat(created_at)
    return not ((nbf and created < datetime.fromisoformat(nbf)) or (exp and created > datetime.fromisoformat(exp)))


def main(export, jwks_file, checkpoint_file=None):
    jwks = json.load(open(jwks_file))
    keys = KeySet.import_key_set(jwks)
    windows = {k["kid"]: (k.get("nbf"), k.get("exp")) for k in jwks["keys"]}
    size, root = 0, None
    if checkpoint_file:
        found = verify_note(json.load(open(checkpoint_file))["note"], jwks)
        if found is None:
            sys.exit("the checkpoint is signed by no key of the JWKS")
        size, root, _ = found
    frontier = []  # RFC 9162: (subtree size, hash) of the tree's right edge; leaves 0x00-, nodes 0x01-prefixed
    warnings.filterwarnings("ignore", message="EdDSA is deprecated")  # RFC 9864's new name is Ed25519
    seq, prev, created_at = 0, "0" * 64, None
    pending = None  # (seq, kid) of the first record without a JWS that no checkpoint covers yet
    for line in open(export, encoding="utf-8"):
        record = json.loads(line)
        if "checkpoint" in record:  # the signed checkpoint of the commit that ended at the record before
            try:
                found = verify_note(record["checkpoint"], jwks)
            except Exception as exc:
                fail(record["size"], f"checkpoint signature: {exc}")
            if found is None:
                fail(record["size"], "the checkpoint is signed by no key of the JWKS")
            at, head_root, kid = found
            if at != record["size"] or at != seq or head_root != root_of(frontier):
                fail(at, "the records differ from their commit's signed checkpoint (size or Merkle root)")
            if not in_window(windows, kid, created_at):
                fail(at, "the checkpoint is signed outside its key's validity window")
            if pending is not None and pending[1] != kid:
                fail(pending[0], "names a key other than the one that signed its commit's checkpoint")
            pending = None
            continue
        payload = record["payload"].encode("utf-8")
        if record.get("jws") is None:  # signed per commit: by the checkpoint line after its commit
            signed = json.loads(payload)
            if signed["key_id"] not in windows:
                fail(record["seq"], "names a key the JWKS does not list")
            pending = pending or (record["seq"], signed["key_id"])
            kid = signed["key_id"]
        else:
            try:
                token = jws.deserialize_compact(record["jws"], keys, algorithms=["EdDSA", "Ed25519"])
            except Exception as exc:
                fail(record["seq"], f"signature: {exc}")
            if token.payload != payload:
                fail(record["seq"], "the signed bytes are not the stored payload")
            signed, kid = json.loads(payload), token.protected["kid"]
        if hashlib.sha256(payload).hexdigest() != record["hash"]:
            fail(record["seq"], "hash")
        if not signed["seq"] == record["seq"] == seq + 1:
            fail(record["seq"], f"sequence: expected {seq + 1}")
        if not signed["prev_hash"] == record["prev_hash"] == prev:
            fail(record["seq"], "does not link to the previous record")
        if not in_window(windows, kid, signed["created_at"]):
            fail(record["seq"], "signed outside its key's validity window")
        frontier.append((1, hashlib.sha256(b"\x00" + payload).digest()))
        while len(frontier) > 1 and frontier[-1][0] == frontier[-2][0]:
            (width, left), (_, right) = frontier[-2], frontier.pop()
            frontier[-1] = (2 * width, hashlib.sha256(b"\x01" + left + right).digest())
        if seq + 1 == size and root_of(frontier) != root:
            fail(size, "the log differs from the checkpoint at its size (Merkle root)")
        seq, prev, created_at = record["seq"], record["hash"], signed["created_at"]
    if size > seq:
        fail(seq + 1, f"truncated: the checkpoint says {size} records")
    if pending is not None:
        fail(pending[0], "unsigned: no signed checkpoint covers it")
    print(f"ok: {seq} records, head {prev}" + (f", Merkle root {root.hex()} at size {size}" if root else ""))


if __name__ == "__main__":
    main(*sys.argv[1:])
