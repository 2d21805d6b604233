"""The JWKS a log is checked against: each key with its validity window, loaded once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from advisor.audit.keys import public_key_from_jwk, thumbprint
from advisor.audit.verify.model import JwksError


def parse_time(text: str) -> datetime:
    """RFC 3339 with an offset (``Z`` included); a naive time is refused, never guessed."""
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise ValueError(f"{text!r} has no UTC offset")
    return value


@dataclass(frozen=True)
class PublicKey:
    kid: str
    key: Ed25519PublicKey
    not_before: str | None
    not_after: str | None
    nbf: datetime | None
    exp: datetime | None

    def window(self) -> str:
        return f"{self.not_before or '-inf'} .. {self.not_after or 'now'}"

    def covers(self, when: datetime) -> bool:
        # Inclusive at both ends: rotation uses one instant as the old key's exp and the new key's nbf.
        return (self.nbf is None or when >= self.nbf) and (self.exp is None or when <= self.exp)


def load_keys(jwks: dict[str, Any]) -> dict[str, PublicKey]:
    """Keys by kid from a JWKS; each kid must be the key's RFC 7638 thumbprint, so the set cannot lie."""
    keys: dict[str, PublicKey] = {}
    entries = jwks.get("keys") if isinstance(jwks, dict) else None
    if not isinstance(entries, list):
        raise JwksError("not a JWKS: no 'keys' list")
    for entry in entries:
        try:
            key = public_key_from_jwk(entry)
            kid = str(entry["kid"])
            if kid != thumbprint(entry):
                raise JwksError(f"kid {kid} is not the RFC 7638 thumbprint of its key")
            nbf, exp = entry.get("nbf"), entry.get("exp")
            keys[kid] = PublicKey(kid=kid, key=key, not_before=nbf, not_after=exp,
                                  nbf=parse_time(nbf) if nbf is not None else None,
                                  exp=parse_time(exp) if exp is not None else None)
        except JwksError:
            raise
        except (KeyError, TypeError, ValueError) as exc:
            raise JwksError(f"unusable key in JWKS: {exc}") from exc
    return keys
