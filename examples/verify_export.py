"""Verify an `advisor export` with nothing but the exported files, the standard library and joserfc.

    pip install joserfc
    python verify_export.py audit.jsonl audit.jwks.json [checkpoint.json]

Independent of the advisor's own code: every signature (JWS, Ed25519), every hash, every link,
every key's validity window, and, given a checkpoint, that the log still reaches it unchanged.
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
    size, head = 0, None
    if checkpoint_file:  # signed text: origin, size, head hash (base64), time, key id
        checkpoint = json.load(open(checkpoint_file))
        key = next(k for k in jwks["keys"] if k["kid"] == checkpoint["key_id"])
        Ed25519PublicKey.from_public_bytes(b64url(key["x"])).verify(  # raises if the signature is bad
            b64url(checkpoint["signature"]), checkpoint["text"].encode("utf-8"))
        lines = checkpoint["text"].split("\n")
        size, head = int(lines[1]), base64.b64decode(lines[2]).hex()
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
        if seq + 1 == size and record["hash"] != head:
            fail(size, "the log differs from the checkpoint at its size")
        seq, prev = record["seq"], record["hash"]
    if size > seq:
        fail(seq + 1, f"truncated: the checkpoint says {size} records")
    print(f"ok: {seq} records, head {prev}")


if __name__ == "__main__":
    main(*sys.argv[1:])
