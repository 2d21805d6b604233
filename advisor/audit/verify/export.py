"""The records of an ``advisor export`` file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import msgspec

from advisor.audit.verify.model import CheckpointLine, ExportLine, MalformedExport, StoredHead, StoredRecord

_line_decoder = msgspec.json.Decoder(ExportLine)
_checkpoint_decoder = msgspec.json.Decoder(CheckpointLine)


def export_records(path: Path) -> Iterator[StoredRecord | StoredHead]:
    """The records of an ``advisor export`` file, one JSON line each, and the signed checkpoint line after each
    commit's last record; a bad line (or a checkpoint before any record) raises ``MalformedExport``."""
    seen = False
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                entry = _line_decoder.decode(line)
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                try:
                    head = _checkpoint_decoder.decode(line)
                except (msgspec.DecodeError, msgspec.ValidationError):
                    raise MalformedExport(number, str(exc)) from None
                if not seen:
                    raise MalformedExport(number, "a checkpoint line before any record") from None
                yield StoredHead(head.size, head.checkpoint)
                continue
            seen = True
            yield StoredRecord(seq=entry.seq, id=entry.id, prev_hash=entry.prev_hash, hash=entry.hash,
                               payload=entry.payload, jws=entry.jws)
