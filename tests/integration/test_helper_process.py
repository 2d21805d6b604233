"""The helper-process component itself (advisor.workers.process), with a probe child: typed errors cross the
boundary as themselves, a crashed child fails its calls in flight and is replaced, stop ends every child."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from advisor.settings import Settings
from advisor.workers.process import HelperFailed, HelperPool
from tests.integration.probe_helper import PROBE, ProbeDown, ProbeLost, Refused

pytestmark = pytest.mark.slow


def with_pool(processes: int, test: Callable[[HelperPool], Coroutine[Any, Any, None]],
              on_notice: Callable[[bytes], None] | None = None) -> None:
    async def run() -> None:
        pool = HelperPool(PROBE, Settings(), processes, on_notice=on_notice)
        await pool.start()
        try:
            await test(pool)
        finally:
            await pool.stop()

    asyncio.run(run())


def test_answers_come_back_to_their_own_calls() -> None:
    async def check(pool: HelperPool) -> None:
        bodies = [f"echo:{i}".encode() for i in range(200)]
        assert await asyncio.gather(*(pool.call(b) for b in bodies)) == [b.split(b":")[1] for b in bodies]
        assert pool.in_flight() == 0

    with_pool(2, check)


def test_a_registered_error_arrives_as_the_same_type_with_its_state() -> None:
    async def check(pool: HelperPool) -> None:
        with pytest.raises(Refused) as caught:
            await pool.call(b"refuse:not today")
        assert type(caught.value) is Refused
        assert (str(caught.value), caught.value.code) == ("not today", 7)
        with pytest.raises(Refused) as loudly:  # an unregistered subclass crosses as its registered base
            await pool.call(b"refuse-loudly:never")
        assert (type(loudly.value), loudly.value.code) == (Refused, 9)
        with pytest.raises(HelperFailed, match=r"^probe failed: KeyError$"):  # the type's name, never the message
            await pool.call(b"fail:secret input")
        assert await pool.call(b"echo:still serving") == b"still serving"

    with_pool(1, check)


def test_notices_reach_the_parent_before_the_answer_of_their_batch() -> None:
    seen: list[bytes] = []

    async def check(pool: HelperPool) -> None:
        assert await pool.call(b"notice:committed 3") == b"committed 3"
        assert seen == [b"committed 3"]

    with_pool(1, check, on_notice=seen.append)


def test_a_crashed_child_fails_its_calls_in_flight_and_is_replaced() -> None:
    async def check(pool: HelperPool) -> None:
        [first] = pool.pids()
        assert int(await pool.call(b"pid")) == first
        in_flight = [pool.submit(b"crash"), pool.submit(b"echo:after the crash"), pool.submit(b"slow:0")]
        outcomes = await asyncio.gather(*in_flight, return_exceptions=True)
        assert [type(o) for o in outcomes] == [ProbeLost] * 3
        for _ in range(100):
            if pool.pids() not in ([], [first]):
                break
            await asyncio.sleep(0.05)
        [second] = pool.pids()
        assert second != first
        assert pool.restarts == 1
        assert int(await pool.call(b"pid")) == second
        with pytest.raises(ProcessLookupError):  # the dead child was reaped
            os.kill(first, 0)

    with_pool(1, check)


def test_stop_ends_every_child_and_later_calls_are_unavailable() -> None:
    pids: list[int] = []

    async def check(pool: HelperPool) -> None:
        pids.extend(pool.pids())
        assert len(pids) == 2
        await pool.call(b"echo:up")
        await pool.stop()
        assert pool.pids() == []
        assert pool.restarts == 0  # a child stopped on purpose is not a restart
        with pytest.raises(ProbeDown):
            pool.submit(b"echo:too late")

    with_pool(2, check)
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
