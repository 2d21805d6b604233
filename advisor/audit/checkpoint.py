"""Signed checkpoints: C2SP tlog-checkpoints (origin, tree size, Merkle root) as C2SP signed notes.

Deleting the newest records leaves a valid shorter log; only a checkpoint kept elsewhere shows the
log was once longer, and two checkpoints plus a consistency proof show it only grew in between.
The signed text is exactly the three lines of the tlog-checkpoint format, so any tool that speaks
it (Go's sumdb/note and tlog packages, Sigstore, transparency-dev) reads ours:

    <origin>
    <tree size, decimal>
    <base64 of the RFC 9162 root hash>

then a blank line and ``— <origin> <base64(4-byte key hash || Ed25519 signature)>``. The key hash is
SHA-256(name || LF || 0x01 || public key)[:4], the signed-note key id for Ed25519; the key's name is
the origin. No database import here: the writer signs one per group commit (store/tree.py).
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

from advisor.audit.keys import SigningKey
from advisor.audit.verify import Anchor, PublicKey

DASH = "\u2014"


class Checkpoint(msgspec.Struct, frozen=True, kw_only=True):
    """The signed ``note`` is authoritative; the other fields repeat it for convenience."""

    origin: Annotated[str, msgspec.Meta(description="The log's name: the checkpoint's origin line and key name")]
    size: Annotated[int, msgspec.Meta(description="The tree size: how many records the log held")]
    root_hash: Annotated[str, msgspec.Meta(description="The RFC 9162 Merkle root (hex; base64 in the note)")]
    key_id: Annotated[str, msgspec.Meta(
        description="The signing key's RFC 7638 thumbprint (see /.well-known/jwks.json)")]
    note: Annotated[str, msgspec.Meta(
        description="What is signed and the signature: the C2SP tlog-checkpoint text (origin, size, base64 root), "
        "a blank line and the signed-note signature line (authoritative)")]


class CheckpointError(ValueError):
    """The checkpoint cannot be trusted: malformed, signed by an unknown key, or a bad signature."""


class UnknownCheckpointKey(CheckpointError):
    """The checkpoint is signed by no key the verifier was given (the JWKS or verifier key)."""


def checkpoint_text(origin: str, size: int, root: bytes) -> str:
    return f"{origin}\n{size}\n{base64.b64encode(root).decode('ascii')}\n"


def raw_public_key(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def note_key_hash(name: str, public_key: Ed25519PublicKey) -> bytes:
    """C2SP signed-note key id for Ed25519: SHA-256(name || LF || 0x01 || public key)[:4]."""
    return hashlib.sha256(name.encode("utf-8") + b"\n\x01" + raw_public_key(public_key)).digest()[:4]


def verifier_key(name: str, public_key: Ed25519PublicKey) -> str:
    """The signed-note verifier key ``<name>+<hex key hash>+<base64(0x01 || key)>`` that note tools take."""
    encoded = base64.b64encode(b"\x01" + raw_public_key(public_key)).decode("ascii")
    return f"{name}+{note_key_hash(name, public_key).hex()}+{encoded}"


def parse_verifier_key(text: str) -> tuple[str, Ed25519PublicKey]:
    """``(name, public key)`` of a verifier key; ``CheckpointError`` when it is not one or its hash is wrong."""
    try:
        name, key_hash, encoded = text.strip().split("+", 2)
        raw = base64.b64decode(encoded, validate=True)
        if len(raw) != 33 or raw[0] != 1:
            raise ValueError("not an Ed25519 verifier key")
        public_key = Ed25519PublicKey.from_public_bytes(raw[1:])
    except (ValueError, binascii.Error) as exc:
        raise CheckpointError(f"not a signed-note verifier key: {exc}") from None
    if note_key_hash(name, public_key).hex() != key_hash:
        raise CheckpointError("the verifier key's hash does not match its key")
    return name, public_key


def sign_checkpoint(origin: str, size: int, root: bytes, key: SigningKey) -> Checkpoint:
    text = checkpoint_text(origin, size, root)
    signature = key.sign(text.encode("utf-8"))
    line = base64.b64encode(note_key_hash(origin, key.private_key.public_key()) + signature).decode("ascii")
    return Checkpoint(origin=origin, size=size, root_hash=root.hex(), key_id=key.kid,
                      note=f"{text}\n{DASH} {origin} {line}\n")


def parse_note(note: str) -> tuple[str, list[tuple[str, bytes, bytes]]]:
    """The signed text and its signature lines ``(name, key hash, signature)``."""
    text, sep, rest = note.partition("\n\n")
    if not sep or not rest.endswith("\n"):
        raise CheckpointError("not a signed note: no blank line before the signatures")
    signatures = []
    for line in rest[:-1].split("\n"):
        parts = line.split(" ")
        if len(parts) != 3 or parts[0] != DASH:
            raise CheckpointError("a signature line of the note is malformed")
        try:
            blob = base64.b64decode(parts[2], validate=True)
        except (ValueError, binascii.Error):
            raise CheckpointError("a signature line of the note is not base64") from None
        if len(blob) != 4 + 64:
            raise CheckpointError("a signature of the note is not an Ed25519 signature")
        signatures.append((parts[1], blob[:4], blob[4:]))
    return text + "\n", signatures


def verify_note(note: str, keys: dict[str, PublicKey], origin: str | None = None) -> tuple[str, int, bytes, str]:
    """``(origin, size, root, kid)`` of a checkpoint note signed by one of ``keys`` (under the origin's name)."""
    text, signatures = parse_note(note)
    lines = text.split("\n")
    if len(lines) < 4 or not lines[0]:
        raise CheckpointError("the checkpoint text is malformed")
    name = lines[0]
    if origin is not None and name != origin:
        raise CheckpointError(f"the checkpoint is for log {name!r}, not {origin!r}")
    by_hash = {note_key_hash(name, key.key): key for key in keys.values()}
    for signer, key_hash, signature in signatures:
        key = by_hash.get(key_hash)
        if signer != name or key is None:
            continue
        try:
            key.key.verify(signature, text.encode("utf-8"))
        except InvalidSignature:
            raise CheckpointError("the checkpoint's signature does not verify") from None
        try:
            size, root = int(lines[1]), base64.b64decode(lines[2], validate=True)
        except (ValueError, binascii.Error):
            raise CheckpointError("the checkpoint text is malformed") from None
        if size < 0 or len(root) != 32 or str(size) != lines[1]:
            raise CheckpointError("the checkpoint text is malformed")
        return name, size, root, key.kid
    raise UnknownCheckpointKey("the checkpoint is signed by no key the JWKS (or verifier key) lists")


def is_chain_format(note: str) -> bool:
    """A checkpoint of the chain-only log (before the Merkle tree): its third line is the chain's head hash,
    and its text has ``timestamp`` and ``key`` extension lines. Still verifiable, against the chain."""
    lines = parse_note(note)[0].split("\n")
    return len(lines) == 6 and lines[3].startswith("timestamp ") and lines[4].startswith("key ")


def anchor_of_note(note: str, keys: dict[str, PublicKey], origin: str | None = None) -> Anchor:
    """What a signed checkpoint note vouches for: a Merkle root, or (chain format) the chain's head hash."""
    _, size, root, _ = verify_note(note, keys, origin)
    if is_chain_format(note):
        return Anchor(size=size, hash=root.hex(), label="checkpoint (chain format)")
    return Anchor(size=size, hash=None, label="checkpoint", root=root.hex())


def verify_checkpoint(checkpoint: Checkpoint, keys: dict[str, PublicKey], origin: str | None = None) -> Anchor:
    """The tree head a verified checkpoint vouches for; ``CheckpointError`` if it cannot be trusted."""
    name, size, root, kid = verify_note(checkpoint.note, keys, origin)
    if (name, size, root.hex(), kid) != (checkpoint.origin, checkpoint.size, checkpoint.root_hash, checkpoint.key_id):
        raise CheckpointError("the checkpoint's fields disagree with its signed note")
    return Anchor(size=size, hash=None, label="checkpoint", root=root.hex())
