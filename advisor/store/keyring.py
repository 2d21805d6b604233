"""Which key signs now, and every public key ever used.

Public keys and their validity windows live in the database (so every replica publishes the
same JWKS); private keys live only in files. Rotation and bootstrap take the chain lock, so a
record is always signed by the key that was active when it was appended.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, insert, select, update

from advisor.audit.formats import utc_now
from advisor.audit.keys import SigningKey, generate_key_file, load_key_dir, load_key_file
from advisor.store.errors import SigningUnavailable
from advisor.store.tables import signing_keys


class KeyRing:
    def __init__(self, keys_dir: Path, signing_key_file: Path | None = None) -> None:
        self.keys_dir = keys_dir
        self.signing_key_file = signing_key_file
        self._local: dict[str, SigningKey] = {}
        self._reload()

    def _reload(self) -> None:
        local = load_key_dir(self.keys_dir)
        if self.signing_key_file is not None:
            key = load_key_file(self.signing_key_file)
            local[key.kid] = key
        self._local = local

    def private(self, kid: str) -> SigningKey:
        key = self._local.get(kid)
        if key is None:
            self._reload()  # a rotation elsewhere may have added the file
            key = self._local.get(kid)
        if key is None:
            raise SigningUnavailable(f"the private key for active key {kid} is not available here")
        return key

    @staticmethod
    def _active_row(conn: Connection) -> Any:
        return conn.execute(
            select(signing_keys.c.kid, signing_keys.c.not_before).where(signing_keys.c.not_after.is_(None))
            .order_by(signing_keys.c.not_before.desc()).limit(1)
        ).first()

    @staticmethod
    def active_kid(conn: Connection) -> str | None:
        row = KeyRing._active_row(conn)
        return None if row is None else str(row.kid)

    def active_since(self, conn: Connection) -> tuple[SigningKey, str]:
        """The active key and the start of its validity window (no record may predate it)."""
        row = self._active_row(conn)
        if row is None:
            raise SigningUnavailable("no signing key is registered; run `advisor migrate`")
        return self.private(str(row.kid)), str(row.not_before)

    def active(self, conn: Connection) -> SigningKey:
        return self.active_since(conn)[0]

    def ensure_active(self, conn: Connection) -> SigningKey:
        """Inside the chain lock: register a key if none is active (first start)."""
        kid = self.active_kid(conn)
        if kid is not None:
            return self.private(kid)
        if self.signing_key_file is not None:
            key = load_key_file(self.signing_key_file)
        elif self._local:
            key = sorted(self._local.values(), key=lambda k: k.kid)[0]
        else:
            key = generate_key_file(self.keys_dir)
        self._register(conn, key)
        self._local[key.kid] = key
        return key

    def rotate(self, conn: Connection) -> SigningKey:
        """Inside the chain lock: retire the active key and activate a new one."""
        now = utc_now()
        conn.execute(update(signing_keys).where(signing_keys.c.not_after.is_(None)).values(not_after=now))
        key = generate_key_file(self.keys_dir)
        self._register(conn, key, now)
        self._local[key.kid] = key
        return key

    @staticmethod
    def _register(conn: Connection, key: SigningKey, when: str | None = None) -> None:
        conn.execute(insert(signing_keys).values(kid=key.kid, public_jwk=json.dumps(key.jwk, sort_keys=True),
                                                 not_before=when or utc_now(), not_after=None))


def jwks(conn: Connection) -> dict[str, Any]:
    """Every key ever used, with its validity window (``nbf``/``exp`` as RFC 3339 strings)."""
    keys = []
    for row in conn.execute(select(signing_keys).order_by(signing_keys.c.not_before)):
        jwk: dict[str, Any] = json.loads(row.public_jwk)
        jwk.update({"kid": row.kid, "alg": "EdDSA", "use": "sig", "nbf": row.not_before})
        if row.not_after is not None:
            jwk["exp"] = row.not_after
        keys.append(jwk)
    return {"keys": keys}
