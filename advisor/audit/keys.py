"""Ed25519 signing keys: files on disk for the private half, JWKs for the public half.

The private key never leaves its file (mode 0600). Key ids are RFC 7638 JWK thumbprints, so
anyone holding the public key can recompute the id.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64url_decode_strict(text: str) -> bytes | None:
    """Decode base64url, refusing any other spelling of the same bytes (padding, stray bits, other chars)."""
    try:
        data = b64url_decode(text)
    except (ValueError, binascii.Error):
        return None
    return data if b64url(data) == text else None


def public_jwk(public_key: Ed25519PublicKey) -> dict[str, str]:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {"crv": "Ed25519", "kty": "OKP", "x": b64url(raw)}


def thumbprint(jwk: dict[str, str]) -> str:
    """RFC 7638: SHA-256 over the required members in lexicographic order, no whitespace."""
    required = {"crv": jwk["crv"], "kty": jwk["kty"], "x": jwk["x"]}
    return b64url(hashlib.sha256(json.dumps(required, separators=(",", ":"), sort_keys=True).encode()).digest())


def public_key_from_jwk(jwk: dict[str, str]) -> Ed25519PublicKey:
    if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
        raise ValueError("not an Ed25519 OKP key")
    return Ed25519PublicKey.from_public_bytes(b64url_decode(jwk["x"]))


class SigningKey:
    """A private key with its key id."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self.private_key = private_key
        self.jwk = public_jwk(private_key.public_key())
        self.kid = thumbprint(self.jwk)

    def sign(self, data: bytes) -> bytes:
        return self.private_key.sign(data)

    def __repr__(self) -> str:  # never print key material
        return f"SigningKey(kid={self.kid!r})"


def generate_key_file(directory: Path) -> SigningKey:
    """Create a new key file ``<kid>.pem`` (0600) in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = SigningKey(Ed25519PrivateKey.generate())
    pem = key.private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path = directory / f"{key.kid}.pem"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    return key


def load_key_file(path: Path) -> SigningKey:
    private = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(private, Ed25519PrivateKey):
        raise ValueError(f"{path} is not an Ed25519 private key")
    return SigningKey(private)


def load_key_dir(directory: Path) -> dict[str, SigningKey]:
    keys = {}
    for path in sorted(directory.glob("*.pem")) if directory.is_dir() else []:
        key = load_key_file(path)
        keys[key.kid] = key
    return keys
