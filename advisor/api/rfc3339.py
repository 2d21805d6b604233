"""Strict RFC 3339 date-times for query parameters.

``datetime.fromisoformat`` takes all of ISO 8601's forms (week dates, compact forms, a space for
``T``, no offset), so it is not the contract the API documents; and converting an extreme local
time to UTC can overflow a ``datetime``. Here: exactly ``date-time`` of RFC 3339 section 5.6, with
an offset, and an instant outside years 1-9999 in UTC is a ``ValueError`` like any other bad input.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

_DATE_TIME = re.compile(
    r"(?P<y>[0-9]{4})-(?P<mo>[0-9]{2})-(?P<d>[0-9]{2})[Tt](?P<h>[0-9]{2}):(?P<mi>[0-9]{2}):(?P<s>[0-9]{2})"
    r"(?:\.(?P<frac>[0-9]{1,9}))?(?P<offset>[Zz]|[+-][0-9]{2}:[0-9]{2})")


def parse_rfc3339(text: str) -> datetime:
    """The instant ``text`` names, in UTC; ``ValueError`` for anything but an RFC 3339 date-time."""
    match = _DATE_TIME.fullmatch(text)  # fullmatch: no trailing newline, nothing after the offset
    if match is None:
        raise ValueError(f"{text!r} is not an RFC 3339 date-time (e.g. 2026-01-31T00:00:00Z)")
    offset = match["offset"]
    if offset in ("Z", "z"):
        zone = UTC
    else:
        hours, minutes = int(offset[1:3]), int(offset[4:6])
        if hours > 23 or minutes > 59:
            raise ValueError(f"{text!r} has an offset out of range")
        sign = -1 if offset[0] == "-" else 1
        zone = timezone(sign * timedelta(hours=hours, minutes=minutes))
    micros = int((match["frac"] or "0")[:6].ljust(6, "0"))
    local = datetime(int(match["y"]), int(match["mo"]), int(match["d"]), int(match["h"]), int(match["mi"]),
                     int(match["s"]), micros, tzinfo=zone)  # ValueError for a day or hour that does not exist
    try:
        return local.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"{text!r} is outside the years 1-9999 in UTC") from None
