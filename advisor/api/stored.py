"""A stored assessment as one caller may read it, or 404: the read rule, written once for every route.

Reviewers and auditors read every record; an assessor reads only the records it requested. Another
client's record is answered exactly like a missing one (404 ``no assessment {id}``), so that an id
never tells an assessor whether someone else's record exists. ``GET /assessments/{id}``, its reviews,
decision record, curve, comparisons, what-if and reassessment, and the pages, all read through here.
"""

from __future__ import annotations

import msgspec
from litestar.exceptions import NotFoundException

from advisor.audit.record import Assessment
from advisor.auth.clients import Principal
from advisor.store.repository import Repository

_assessment = msgspec.json.Decoder(Assessment)


def reader_scope(principal: Principal) -> str | None:
    """Whose records this caller reads: ``None`` for all (reviewers, auditors), else its own client id."""
    return None if principal.reads_all else principal.client_id


def readable(repository: Repository, principal: Principal, record_id: str) -> bytes:
    """The record as served (``Repository.get``: checked against the log first) if ``principal`` may read it,
    else 404. Blocking: call it from a worker thread in an async handler."""
    found = repository.get(record_id, reader_scope(principal))
    if found is None:
        raise NotFoundException(f"no assessment {record_id}")
    return found


def readable_assessment(repository: Repository, principal: Principal, record_id: str) -> Assessment:
    """:func:`readable`, decoded."""
    return _assessment.decode(readable(repository, principal, record_id))
