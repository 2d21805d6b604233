"""The store's errors, defined once where the concept lives and imported by whoever raises or maps them.

The writer (thread or process), the idempotency store, the key ring and the tree raise them; the
API maps them to problems. Kept apart from the modules that raise them so that a caller can name
an error without importing (or cycling through) the machinery behind it.
"""

from __future__ import annotations

from advisor.application.ports import ClaimLost


class StoreUnavailable(RuntimeError):
    """The database could not take the append; nothing was stored for this request."""


class DraftRejected(RuntimeError):
    """One draft's own ``also_write`` refused it (e.g. its idempotency claim was lost): only it fails."""


class RecordRefused(DraftRejected):
    """The database refused this record's own data (alone in its transaction): retrying cannot help."""


class CommitUnknown(StoreUnavailable):
    """The connection failed during COMMIT: the records may or may not be stored.

    Only an idempotent retry (same Idempotency-Key) can tell; it replays if the commit happened.
    """


class LeaseLost(DraftRejected, ClaimLost):
    """The claim was taken over (its lease ran out) or released before the record committed."""


class SigningUnavailable(RuntimeError):
    """No usable private key for the active key id: appends must wait (503), not fail open."""


class TreeIncomplete(RuntimeError):
    """A node the tree should have is not stored: the tree was damaged (or never built: run the migration)."""


class RecordIntegrityError(RuntimeError):
    """A stored record that is not what the log committed to: it must not be served."""

    def __init__(self, record_id: str, seq: int, reason: str) -> None:
        super().__init__(f"record {record_id} (seq {seq}) failed its integrity check: {reason}")
        self.record_id, self.seq, self.reason = record_id, seq, reason


class NoDatabase(RuntimeError):
    """A command that reads the database found none (it never creates one: ``advisor migrate`` does)."""


class LastAdmin(RuntimeError):
    """Revoking this client would leave no active admin."""
