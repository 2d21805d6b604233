"""Time never runs backwards along the log: the writer guarantees it, listing relies on it, verify checks it."""

from __future__ import annotations

import pytest
from litestar import Litestar

from advisor.services import Services
from advisor.settings import Settings
from advisor.store import writer
from advisor.store.repository import ListFilter
from advisor.store.verification import verify_database
from tests.signed_log import append_records, forge_record, row, tampering

SQLITE = pytest.mark.parametrize("settings", ["sqlite"], indirect=True)


@pytest.fixture
def services(app: Litestar) -> Services:
    services: Services = app.state.services
    append_records(services, 30, batch=3)
    return services


def created_times(services: Services) -> list[str]:
    return [r.created_at or "" for r in reversed(services.repository.page(ListFilter(), None, 1000))]


@SQLITE
def test_a_clock_running_backwards_does_not_stamp_earlier_records(
        settings: Settings, services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(writer, "utc_now", lambda: "2000-01-01T00:00:00.000000Z")
    append_records(services, 6, batch=2)
    times = created_times(services)
    assert times == sorted(times)
    assert times[-1] != "2000-01-01T00:00:00.000000Z"
    assert verify_database(services.engine, settings.log_name, workers=0).ok


@SQLITE
def test_time_windows_list_exactly_the_records_inside_them(services: Services) -> None:
    everything = services.repository.page(ListFilter(), None, 1000)
    created = {r.seq: r.created_at or "" for r in everything}
    assert all(created.values())  # every record listed with its values: none failed its check
    times = sorted(set(created.values()))
    start, end = times[3], times[-3]
    expected = [seq for seq, at in created.items() if start <= at < end]
    window = ListFilter(created_from=start, created_to=end)
    assert [r.seq for r in services.repository.page(window, None, 1000)] == expected
    paged, cursor = [], None
    while True:  # the same records, page by page
        page = services.repository.page(window, cursor, 4)
        if not page:
            break
        paged += [r.seq for r in page]
        cursor = page[-1].seq
    assert paged == expected
    assert services.repository.page(ListFilter(created_from="2999-01-01T00:00:00Z"), None, 10) == []
    assert services.repository.page(ListFilter(created_to="2000-01-01T00:00:00Z"), None, 10) == []


@SQLITE
def test_a_validly_signed_record_stamped_in_the_past_is_caught(settings: Settings, services: Services) -> None:
    with services.engine.connect() as conn:
        key = services.keyring.active(conn)  # an insider with the signing key
    with tampering(settings) as conn:
        seq = forge_record(conn, key, log=settings.log_name, created_at=row(conn, 1)["created_at"])
    result = verify_database(services.engine, settings.log_name, workers=0)
    assert result.problem is not None
    assert (result.problem.seq, result.problem.kind) == (seq, "reordered")
