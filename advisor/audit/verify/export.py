"""The records of an ``advisor export`` file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import msgspec

from advisor.audit.verify.model import ExportLine, MalformedExport, StoredRecord

_line_decoder = msgspec.json.Decoder(ExportLine)


def export_records(path: Path) -> Iterator[StoredRecord]:
    """The records of an ``advisor export`` file, one JSON line each; a bad line raises ``MalformedExport``."""
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                entry = _line_decoder.decode(line)
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                raise MalformedExport(number, str(exc)) from None
            yield StoredRecord(seq=entry.seq, id=entry.id, prev_hash=entry.prev_hash, hash=entry.hash,
                               payload=entry.payload, jws=entry.jws)
