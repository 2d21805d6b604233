"""``GET /metrics``: Prometheus text for the monitor and admin roles only, with the operator's metrics."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable

import msgspec
import pytest
from litestar import Litestar
from litestar.testing import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from advisor.settings import Settings
from advisor.workers.writer import WriterProcess
from tests.conftest import issue_key, running_app
from tests.factories import profile_dict

Client = TestClient[Litestar]
sqlite_only = pytest.mark.parametrize("settings", ["sqlite"], indirect=True)


def samples(client: Client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(response.text) for s in family.samples}


def value(found: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return sum(v for (n, ls), v in found.items() if n == name and set(labels.items()) <= set(ls))


@sqlite_only
@pytest.mark.parametrize(("role", "status"), [(None, 401), ("assessor", 403), ("reviewer", 403),
                                              ("auditor", 403), ("monitor", 200), ("admin", 200)])
def test_metrics_are_only_for_monitor_and_admin(client_as: Callable[..., Client], role: str | None,
                                                status: int) -> None:
    assert client_as(role).get("/metrics").status_code == status


@sqlite_only
def test_requests_assessments_and_batches_are_counted(client: Client, client_as: Callable[..., Client]) -> None:
    monitor = client_as("monitor")
    before = samples(monitor)
    for i in range(3):
        assert client.post("/assess", json=profile_dict(workload={"daily_tokens": 1000 + i})).status_code == 201
    assert client.post("/assess", json={"bad": 1}).status_code == 400
    after = samples(monitor)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("advisor_requests_total", path="/assess", status_code="201") == 3
    assert delta("advisor_requests_total", path="/assess", status_code="400") == 1
    assert delta("advisor_request_duration_seconds_count", path="/assess") == 4
    assert delta("advisor_assessments_total") == 3
    assert delta("advisor_writer_batch_size_sum") == 3
    assert delta("advisor_writer_commit_seconds_count") >= 1
    assert value(after, "advisor_chain_length") >= 3


@sqlite_only
def test_integrity_failures_found_by_verification_are_counted(app: Litestar, client: Client,
                                                              client_as: Callable[..., Client]) -> None:
    record = client.post("/assess", json=profile_dict()).json()
    with app.state.services.engine.begin() as conn:
        conn.execute(text("UPDATE records SET organization = 'tampered' WHERE id = :id"), {"id": record["id"]})
    monitor = client_as("monitor")
    before = value(samples(monitor), "advisor_integrity_failures_total", kind="edited")
    assert client_as("auditor").get(f"/assessments/{record['id']}/verification").json()["valid"] is False
    assert value(samples(monitor), "advisor_integrity_failures_total", kind="edited") == before + 1


@sqlite_only
def test_records_refused_on_read_or_listed_as_failed_are_counted(app: Litestar, client: Client,
                                                                 client_as: Callable[..., Client]) -> None:
    """The Merkle checks on read count as record-integrity failures: a GET refused, a listed record failed."""
    edited = client.post("/assess", json=profile_dict()).json()
    rewritten = client.post("/assess", json=profile_dict(workload={"daily_tokens": 2000})).json()
    with app.state.services.engine.begin() as conn:
        conn.execute(text("UPDATE records SET organization = 'tampered' WHERE id = :id"), {"id": edited["id"]})
        conn.execute(text("UPDATE records SET payload = replace(payload, '\"strength\":\"', '\"strength\":\"x') "
                          "WHERE id = :id"), {"id": rewritten["id"]})
    monitor, auditor = client_as("monitor"), client_as("auditor")
    before = value(samples(monitor), "advisor_integrity_failures_total", kind="record-integrity")
    response = auditor.get(f"/assessments/{rewritten['id']}")
    assert response.status_code == 500
    assert response.json()["type"].endswith("/record-integrity")
    assert value(samples(monitor), "advisor_integrity_failures_total", kind="record-integrity") == before + 1
    listed = {item["id"]: item for item in auditor.get("/assessments").json()["items"]}
    assert listed[edited["id"]]["integrity"] == "failed"
    assert listed[rewritten["id"]]["integrity"] == "failed"
    assert value(samples(monitor), "advisor_integrity_failures_total", kind="record-integrity") == before + 3


@pytest.mark.slow
@sqlite_only
def test_a_writer_process_reports_its_batches_and_its_restart_to_the_server(settings: Settings) -> None:
    """The writer process counts nothing itself: the server process does, where /metrics is served."""
    in_a_process = msgspec.structs.replace(settings, writer_process=True)
    with running_app(in_a_process, migrated=True) as app, TestClient(app) as client:
        client.headers["Authorization"] = f"Bearer {issue_key(app, 'assessor')}"
        monitor = TestClient(app)
        monitor.headers["Authorization"] = f"Bearer {issue_key(app, 'monitor')}"
        before = samples(monitor)
        assert client.post("/assess", json=profile_dict()).status_code == 201
        assert value(samples(monitor), "advisor_writer_batch_size_sum") == \
            value(before, "advisor_writer_batch_size_sum") + 1
        writer = app.state.services.writer
        assert isinstance(writer, WriterProcess)
        [pid] = writer.helpers.pids()
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while writer.restarts == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert value(samples(monitor), "advisor_helper_restarts_total", helper="writer") == \
            value(before, "advisor_helper_restarts_total", helper="writer") + 1
