"""Signed checkpoints: the log's size and head hash, signed, for an auditor to keep outside the database.

Deleting the newest records leaves a perfectly valid shorter chain; only a checkpoint kept
elsewhere shows that the log was once longer. The format follows C2SP tlog-checkpoint (a signed
note): origin, size and head hash in base64 on three lines, extension lines for the time and the
key id, then a blank line and ``— <origin> <base64(4-byte key hash || Ed25519 signature)>``.
The head hash is the last record's hash in the chain, not a Merkle root: a checkpoint is checked
by walking the chain up to its size, not by an inclusion proof.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import Annotated

import msgspec
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Engine, select

from advisor.audit.keyring import KeyRing, utc_now
from advisor.audit.keys import SigningKey, b64url, b64url_decode
from advisor.audit.verify import Anchor, PublicKey
from advisor.store.tables import chain_head


class Checkpoint(msgspec.Struct, frozen=True, kw_only=True):
    """The signed ``text`` is authoritative; the other fields repeat it for convenience."""

    origin: Annotated[str, msgspec.Meta(description="The log's name (ADVISOR_LOG_NAME): the checkpoint's origin line")]
    size: Annotated[int, msgspec.Meta(description="How many records the log held")]
    hash: Annotated[str, msgspec.Meta(description="The hash (hex) of the record at that size: the log's head")]
    timestamp: Annotated[str, msgspec.Meta(description="When the checkpoint was made (RFC 3339, UTC)")]
    key_id: Annotated[str, msgspec.Meta(
        description="The signing key's RFC 7638 thumbprint (see /.well-known/jwks.json)")]
    # base64url Ed25519 signature over the UTF-8 bytes of ``text``
    signature: Annotated[str, msgspec.Meta(description="base64url Ed25519 signature over the UTF-8 bytes of `text`")]
    text: Annotated[str, msgspec.Meta(
        description="What is signed: origin, size, base64 head hash, timestamp and key lines (authoritative)")]
    # ``text``, a blank line and the signature line: the C2SP signed-note form
    note: Annotated[str, msgspec.Meta(
        description="`text`, a blank line and the signature line: the C2SP signed-note form")]


class CheckpointError(ValueError):
    """The checkpoint cannot be trusted: malformed, signed by an unknown key, or a bad signature."""


def checkpoint_text(origin: str, size: int, head_hash: str, timestamp: str, kid: str) -> str:
    head = base64.b64encode(bytes.fromhex(head_hash)).decode("ascii")
    return f"{origin}\n{size}\n{head}\ntimestamp {timestamp}\nkey {kid}\n"


def note_key_hash(origin: str, public_key: Ed25519PublicKey) -> bytes:
    """C2SP signed-note key id for Ed25519: SHA-256(name || LF || 0x01 || public key)[:4]."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(origin.encode("utf-8") + b"\n\x01" + raw).digest()[:4]


def signed_note(text: str, origin: str, public_key: Ed25519PublicKey, signature: bytes) -> str:
    line = base64.b64encode(note_key_hash(origin, public_key) + signature).decode("ascii")
    return f"{text}\n\u2014 {origin} {line}\n"


def sign_checkpoint(origin: str, size: int, head_hash: str, key: SigningKey, timestamp: str) -> Checkpoint:
    text = checkpoint_text(origin, size, head_hash, timestamp, key.kid)
    signature = key.sign(text.encode("utf-8"))
    return Checkpoint(origin=origin, size=size, hash=head_hash, timestamp=timestamp, key_id=key.kid,
                      signature=b64url(signature), text=text,
                      note=signed_note(text, origin, key.private_key.public_key(), signature))


def current_checkpoint(engine: Engine, keyring: KeyRing, origin: str) -> Checkpoint:
    """Sign the current head with the active key (head and key read in one transaction)."""
    with engine.connect() as conn:
        head = conn.execute(select(chain_head.c.seq, chain_head.c.hash).where(chain_head.c.id == 1)).one()
        key = keyring.active(conn)
    return sign_checkpoint(origin, int(head.seq), str(head.hash), key, utc_now())


def verify_checkpoint(checkpoint: Checkpoint, keys: dict[str, PublicKey], origin: str | None = None) -> Anchor:
    """The (size, head hash) a verified checkpoint vouches for; ``CheckpointError`` if it cannot be trusted."""
    key = keys.get(checkpoint.key_id)
    if key is None:
        raise CheckpointError(f"the checkpoint is signed by key {checkpoint.key_id}, which the JWKS does not list")
    try:
        signature = b64url_decode(checkpoint.signature)
        key.key.verify(signature, checkpoint.text.encode("utf-8"))
    except (InvalidSignature, ValueError, binascii.Error) as exc:
        raise CheckpointError("the checkpoint's signature does not verify") from exc
    lines = checkpoint.text.split("\n")
    try:
        size, head = int(lines[1]), base64.b64decode(lines[2], validate=True).hex()
        expected = checkpoint_text(checkpoint.origin, checkpoint.size, checkpoint.hash, checkpoint.timestamp,
                                   checkpoint.key_id)
    except (IndexError, ValueError, binascii.Error) as exc:
        raise CheckpointError("the checkpoint text is malformed") from exc
    if checkpoint.text != expected or (size, head) != (checkpoint.size, checkpoint.hash):
        raise CheckpointError("the checkpoint's fields disagree with its signed text")
    if checkpoint.note != signed_note(checkpoint.text, checkpoint.origin, key.key, signature):
        raise CheckpointError("the checkpoint's note form disagrees with its signed text")
    if origin is not None and checkpoint.origin != origin:
        raise CheckpointError(f"the checkpoint is for log {checkpoint.origin!r}, not {origin!r}")
    return Anchor(size=size, hash=head, label="checkpoint")
