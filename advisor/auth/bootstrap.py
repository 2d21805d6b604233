"""First start: create an admin client and hand its key to the operator through a 0600 file.

The key is written once to ``settings.bootstrap_admin_file`` and never logged or printed; the log
names only the file. It happens only while no client exists at all, under the chain lock, so
several workers or replicas starting together create exactly one admin.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

from advisor.auth.clients import ClientStore, Role
from advisor.store.database import Database
from advisor.store.idempotency import IdempotencyStore

log = logging.getLogger(__name__)
BOOTSTRAP_ADMIN_NAME = "bootstrap-admin"


def write_secret_file(path: Path, secret: str) -> None:
    """Write ``secret`` to ``path`` with mode 0600 from the start (never readable by others, even briefly)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, scratch = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mkstemp creates it 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(secret + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(scratch, 0o600)
        os.replace(scratch, path)
    except BaseException:
        Path(scratch).unlink(missing_ok=True)
        raise


def ensure_bootstrap_admin(db: Database, credential_file: Path) -> Path | None:
    """Create the first admin when there is no client yet; return the file its key was written to."""
    # Under the chain lock (first starts across workers and replicas serialise); the key file is written
    # before the commit: if the write fails, no admin exists whose key nobody has.
    client = ClientStore(db).create_first(BOOTSTRAP_ADMIN_NAME, Role.ADMIN,
                                          lambda key: write_secret_file(credential_file, key))
    if client is None:
        return None
    log.warning("created admin client %s; its API key is in %s (mode 0600): read it once, keep it in a "
                "secret store, then delete the file", client.id, credential_file.resolve())
    return credential_file


def prepare_access(db: Database, credential_file: Path, idempotency_ttl_hours: int) -> None:
    """``advisor serve``, before the workers start: the first admin, and forget expired idempotency keys."""
    ensure_bootstrap_admin(db, credential_file)
    purged = IdempotencyStore(db, idempotency_ttl_hours).purge_expired()
    if purged:
        log.info("forgot %d expired idempotency key(s)", purged)
