"""The log's fixed formats: the stored-time string and the genesis hash.

Written once here because the signed payload, the tables, the idempotency leases and the
client rows all store times the same way (UTC, fixed width, so they sort as text), and both the
writer and the verifier start the chain from the same predecessor. Standard library only, so a
verifier worker process imports it without the domain model.
"""

from __future__ import annotations

from datetime import UTC, datetime

GENESIS_HASH = "0" * 64  # the predecessor of the first record
STORED_TIME = "%Y-%m-%dT%H:%M:%S.%fZ"  # how every time is stored: UTC, fixed width, sorts as text


def stored_time(moment: datetime) -> str:
    """``moment`` (timezone-aware UTC) in the stored form."""
    return moment.strftime(STORED_TIME)


def utc_now() -> str:
    """Now, in the stored form."""
    return stored_time(datetime.now(UTC))
