"""The evaluator pool: the same answers as evaluating in process, and no request stuck when a process dies."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable, Coroutine
from typing import Any

import msgspec
import pytest

from advisor.application.evaluate import Advisor, ProfileError
from advisor.domain.profile import Profile
from advisor.settings import Settings
from advisor.workers.evaluators import EvaluatorPool, EvaluatorUnavailable, InProcessEvaluator, build_advisor
from tests.factories import make_profile

pytestmark = pytest.mark.slow


def profiles(count: int) -> list[Profile]:
    return [make_profile(workload={"daily_tokens": 50_000 * (i + 1), "simple_task_share": (i % 10) / 10},
                         team={"ml_infra_engineers": i % 3}) for i in range(count)]


def in_pool(processes: int, test: Callable[[EvaluatorPool], Coroutine[Any, Any, None]]) -> None:
    async def run() -> None:
        pool = EvaluatorPool(Settings(), processes)
        await pool.start()
        try:
            await test(pool)
        finally:
            await pool.stop()

    asyncio.run(run())


def test_the_pool_answers_byte_for_byte_what_the_process_itself_would(advisor: Advisor) -> None:
    async def check(pool: EvaluatorPool) -> None:
        batch = profiles(40)
        pooled = await asyncio.gather(*(pool.evaluate(p) for p in batch))
        local = [await InProcessEvaluator(advisor).evaluate(p) for p in batch]
        assert pooled == local
        assert pool.helpers.in_flight() == 0

    in_pool(2, check)


def test_a_profile_error_comes_back_as_the_same_error() -> None:
    async def check(pool: EvaluatorPool) -> None:
        with pytest.raises(ProfileError) as caught:
            await pool.evaluate(make_profile(assumptions={"catalog": "no-such-catalog"}))
        assert caught.value.field == "assumptions.catalog"
        assert (await pool.evaluate(make_profile())).columns.decision  # the process is still serving

    in_pool(1, check)


def test_a_dead_evaluator_fails_only_its_requests_and_is_replaced() -> None:
    async def check(pool: EvaluatorPool) -> None:
        [victim] = pool.helpers.pids()
        pending = [asyncio.ensure_future(pool.evaluate(p)) for p in profiles(200)]
        await asyncio.sleep(0)  # sent
        os.kill(victim, signal.SIGKILL)
        outcomes = await asyncio.gather(*pending, return_exceptions=True)
        failed = [o for o in outcomes if isinstance(o, BaseException)]
        assert failed, "the kill came after every answer; nothing was tested"
        assert all(isinstance(f, EvaluatorUnavailable) for f in failed)
        for _ in range(100):  # replaced within seconds
            if pool.helpers.pids() not in ([], [victim]):
                break
            await asyncio.sleep(0.1)
        assert pool.restarts == 1
        assert (await pool.evaluate(make_profile())).columns.decision

    in_pool(1, check)


def test_an_abandoned_request_does_not_disturb_the_next() -> None:
    async def check(pool: EvaluatorPool) -> None:
        first, second = profiles(2)
        abandoned = asyncio.ensure_future(pool.evaluate(first))
        await asyncio.sleep(0)
        abandoned.cancel()
        expected = await InProcessEvaluator(build_advisor(Settings())).evaluate(second)
        assert await pool.evaluate(second) == expected

    in_pool(1, check)


def test_stopping_the_pool_ends_its_processes() -> None:
    pids: list[int] = []

    async def check(pool: EvaluatorPool) -> None:
        pids.extend(pool.helpers.pids())
        await pool.evaluate(make_profile())

    in_pool(2, check)
    assert len(pids) == 2
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_no_evaluator_running_is_unavailable_not_a_hang() -> None:
    async def check(pool: EvaluatorPool) -> None:
        await pool.stop()
        with pytest.raises(EvaluatorUnavailable):
            await pool.evaluate(make_profile())

    in_pool(1, check)


def test_settings_choose_the_pool() -> None:
    from advisor.workers.evaluators import make_evaluator

    advisor = build_advisor(Settings())
    assert isinstance(make_evaluator(Settings(evaluators=0), advisor), InProcessEvaluator)
    assert isinstance(make_evaluator(Settings(evaluators=3), advisor), EvaluatorPool)
    assert msgspec.convert({"evaluators": "2"}, Settings, strict=False).evaluators == 2
