"""JWS compact serialisation (RFC 7515) with Ed25519 (RFC 8037).

We emit ``alg: EdDSA`` (what PyJWT, jose and openssl-based tools accept today) and accept
``Ed25519`` too (RFC 9864's newer name); no other algorithm is ever accepted.
"""

from __future__ import annotations

import functools
import json

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from advisor.audit.keys import SigningKey, b64url, b64url_decode, b64url_decode_strict

ACCEPTED_ALGS = frozenset({"EdDSA", "Ed25519"})
RECORD_TYPE = "advisor-record+jws"


@functools.lru_cache(maxsize=64)
def protected_header(kid: str) -> str:
    header = {"alg": "EdDSA", "kid": kid, "typ": RECORD_TYPE}
    return b64url(json.dumps(header, separators=(",", ":"), sort_keys=True).encode())


def sign_compact(key: SigningKey, payload: bytes) -> str:
    """Return the compact JWS ``header.payload.signature``.

    The signing input already holds the base64url payload, so the receipt a portal gets is
    built here once rather than encoded again for the response.
    """
    signing_input = f"{protected_header(key.kid)}.{b64url(payload)}"
    return f"{signing_input}.{b64url(key.sign(signing_input.encode('ascii')))}"


def detach(compact: str) -> str:
    """``header.payload.signature`` to ``header..signature`` (RFC 7515 App. F): what the log stores."""
    header, _, rest = compact.partition(".")
    return f"{header}..{rest.rpartition('.')[2]}"


def sign_detached(key: SigningKey, payload: bytes) -> str:
    """Return ``header..signature``: the compact JWS with its payload detached (RFC 7515 App. F)."""
    return detach(sign_compact(key, payload))


def attach(detached: str, payload: bytes) -> str:
    header, _, signature = detached.split(".")
    return f"{header}.{b64url(payload)}.{signature}"


class JwsError(ValueError):
    pass


def verify_detached(detached: str, payload: bytes, keys: dict[str, Ed25519PublicKey]) -> str:
    """Verify a detached JWS over ``payload``; return the key id, or raise ``JwsError``."""
    try:
        header_b64, empty, signature_b64 = detached.split(".")
        header = json.loads(b64url_decode(header_b64))
    except ValueError as exc:
        raise JwsError("malformed JWS") from exc
    if empty or not isinstance(header, dict):
        raise JwsError("malformed JWS")
    if header.get("alg") not in ACCEPTED_ALGS:
        raise JwsError(f"algorithm {header.get('alg')!r} is not accepted")
    kid = header.get("kid")
    key = keys.get(kid) if isinstance(kid, str) else None
    if key is None:
        raise JwsError(f"unknown key {kid!r}")
    # One spelling only: base64url without padding, no stray bits (else a signature has 16 forms).
    signature = b64url_decode_strict(signature_b64)
    if signature is None or len(signature) != 64:
        raise JwsError("bad signature")
    try:
        key.verify(signature, f"{header_b64}.{b64url(payload)}".encode("ascii"))
    except InvalidSignature as exc:
        raise JwsError("bad signature") from exc
    return str(kid)
