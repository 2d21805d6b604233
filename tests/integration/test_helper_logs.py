"""Helper processes (the writer process, evaluators) log JSON lines on the server's stderr, with the request id
where there is one, and neither SQL parameters nor profile contents."""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import msgspec
import pytest
from litestar import Litestar
from litestar.testing import TestClient
from sqlalchemy import update

from advisor.application.ports import Claimed
from advisor.jsonlog import request_id_var
from advisor.services import Services
from advisor.settings import Settings
from advisor.store.errors import LeaseLost
from advisor.store.idempotency import IdempotencyStore
from advisor.store.tables import idempotency_keys
from advisor.store.writer import Completion, Draft
from advisor.workers.evaluators import EvaluatorPool
from advisor.workers.process import HelperFailed
from advisor.workers.writer import WriterProcess
from tests.factories import make_profile

pytestmark = pytest.mark.slow
SECRET_ORG = "Secret Org Name 7d1f"


def json_lines(err: str, helper: str) -> list[dict[str, Any]]:
    """Every stderr line of ``helper``; each must be one JSON object."""
    lines = [line for line in err.splitlines() if line.strip()]
    parsed = []
    for line in lines:
        entry = json.loads(line)  # a plain-text or multi-line traceback would fail here
        assert isinstance(entry, dict)
        parsed.append(entry)
    return [e for e in parsed if e.get("helper") == helper]


def read_until(capfd: pytest.CaptureFixture[str], marker: str, timeout: float = 10) -> str:
    """stderr so far, waiting for ``marker``: a helper process writes on its own schedule."""
    err = ""
    deadline = time.monotonic() + timeout
    while marker not in err and time.monotonic() < deadline:
        time.sleep(0.05)
        err += capfd.readouterr().err
    return err


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return msgspec.structs.replace(settings, writer_process=True)


@contextmanager
def stderr_into(path: Path) -> Iterator[Path]:
    """File descriptor 2 into ``path`` meanwhile: helper processes started now inherit it."""
    saved = os.dup(2)
    with path.open("wb") as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield path
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def wait_for(path: Path, marker: str, timeout: float = 10) -> str:
    deadline = time.monotonic() + timeout
    while marker not in path.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    return path.read_text()


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_the_writer_process_logs_json_with_the_request_id_and_no_data(app: Litestar, tmp_path: Path) -> None:
    services: Services = app.state.services
    assert isinstance(services.writer, WriterProcess)
    store = IdempotencyStore(services.db, 24)
    claim = store.claim("cl-test", "stolen", "f" * 64)
    assert isinstance(claim, Claimed)
    with services.engine.begin() as conn:  # the claim is lost: the writer refuses the draft and logs why
        conn.execute(update(idempotency_keys).values(owner="the-other-process"))
    draft = Draft.new(id=str(uuid.uuid4()), requester="cl-test",
                      recommendation=services.advisor.assess(make_profile(organization={"name": SECRET_ORG})))
    draft = msgspec.structs.replace(draft, request_id="req-abc-123", completion=Completion(
        client_id="cl-test", key="stolen", owner=claim.owner, headers={}))

    async def append() -> None:
        await services.writer.append(draft)

    with stderr_into(tmp_path / "stderr.log") as log, TestClient(app) as client:  # starts the writer process
        with pytest.raises(LeaseLost):
            client.blocking_portal.call(append)
        err = wait_for(log, '"helper": "writer"')
    entries = json_lines(err, "writer")
    assert entries, f"the writer process logged nothing: {err!r}"
    assert {e.get("request_id") for e in entries} == {"req-abc-123"}
    assert SECRET_ORG not in err
    assert "[parameters:" not in err


def test_an_evaluator_logs_json_with_the_request_id_and_no_profile(capfd: pytest.CaptureFixture[str]) -> None:
    async def run() -> None:
        pool = EvaluatorPool(Settings(), 1)
        await pool.start()
        try:
            # A call the evaluator cannot decode (a profile quoting a secret): it fails that request and logs it.
            broken = b'{"organization": {"name": "' + SECRET_ORG.encode() + b'"}'
            with pytest.raises(HelperFailed, match="evaluator failed: DecodeError"):
                await asyncio.wait_for(pool.helpers.call(msgspec.msgpack.encode((broken, "req-eval-9"))), 30)
            token = request_id_var.set("req-eval-10")
            try:
                assert (await pool.evaluate(make_profile())).columns.decision  # still serving
            finally:
                request_id_var.reset(token)
        finally:
            await pool.stop()

    capfd.readouterr()
    asyncio.run(run())
    err = read_until(capfd, '"helper": "evaluator"')
    entries = json_lines(err, "evaluator")
    assert [e.get("request_id") for e in entries] == ["req-eval-9"], err
    assert entries[0]["error"] == "DecodeError"
    assert SECRET_ORG not in err
