"""Where the pure core runs: in the server's process, or in a pool of evaluator processes.

Evaluating a profile (rules, pricing, narrative, canonical bytes) is CPU-bound Python: about
half a millisecond that holds the GIL. In the server's own process it competes with HTTP and
with the chain writer's thread, which waits up to a switch interval (5 ms) for the GIL after
every call that released it (each signature, hash and SQLite step); one process then cannot use
a second core at all. An :class:`EvaluatorPool` runs the core in child processes instead, each
with its own interpreter, and keeps one chain writer per server process (several writer
processes on one SQLite file would queue for its lock instead).

The wire between them is :mod:`advisor.workers.process`'s, one socket pair per child: the
profile as JSON out, the recommendation's canonical bytes (what gets signed) back. The evaluator
is pure, so a child that dies loses nothing but the requests in flight on it (503, retryable);
it is started again.

Run as ``python -m advisor.workers.evaluators --fd N`` only by the pool.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence
from typing import NamedTuple, Protocol

import msgspec

from advisor.application.evaluate import Advisor, ProfileError
from advisor.audit.record import Columns, recommendation_bytes
from advisor.costs.catalog import load_catalogs
from advisor.domain.profile import Profile
from advisor.domain.recommendation import Recommendation
from advisor.domain.regions import load_region_table
from advisor.jsonlog import error_fields, request_id_var
from advisor.rules.engine import RuleEngine
from advisor.rules.rulebook import load_rulebook
from advisor.settings import Settings, helper_processes, usable_cores
from advisor.workers.process import ErrorTypes, HelperKind, HelperPool, Notify, helper_main

log = logging.getLogger(__name__)


def build_advisor(settings: Settings) -> Advisor:
    rulebook = load_rulebook(settings.rules_dir)
    regions = load_region_table((settings.rules_dir / "regions.toml").read_bytes())
    return Advisor(rulebook, RuleEngine(rulebook), load_catalogs(settings.catalogs_dir), settings.default_catalog,
                   regions)


class Evaluated(NamedTuple):
    """A recommendation as the writer needs it: never decoded again on the server's side."""

    raw: bytes  # its canonical bytes (record.recommendation_bytes): what the writer signs
    columns: Columns


def evaluated(recommendation: Recommendation) -> Evaluated:
    return Evaluated(recommendation_bytes(recommendation), Columns.of(recommendation))


class EvaluatorUnavailable(RuntimeError):
    """No evaluator could take the profile (one died with it in flight, or none is running)."""


class Evaluator(Protocol):
    async def evaluate(self, profile: Profile) -> Evaluated: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class InProcessEvaluator:
    """Evaluates on the event loop's thread: no processes (tests, tiny deployments, one core)."""

    def __init__(self, advisor: Advisor) -> None:
        self.advisor = advisor

    async def evaluate(self, profile: Profile) -> Evaluated:
        return evaluated(self.advisor.assess(profile))

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None


_call_encoder = msgspec.msgpack.Encoder()
_call_decoder = msgspec.msgpack.Decoder(tuple[bytes, str | None])  # (the profile as JSON, the HTTP request id)
_profile_encoder = msgspec.json.Encoder()
_answer_decoder = msgspec.msgpack.Decoder(tuple[bytes, Columns])

EVALUATOR = HelperKind(
    name="evaluator", module="advisor.workers.evaluators", errors=ErrorTypes(ProfileError),
    lost=lambda: EvaluatorUnavailable("an evaluator process stopped with this request in flight; retry"),
    unavailable=lambda: EvaluatorUnavailable("no evaluator process is running"))


class EvaluatorPool:
    """``processes`` evaluator processes; each profile goes to the one with the fewest in flight."""

    def __init__(self, settings: Settings, processes: int) -> None:
        self.helpers = HelperPool(EVALUATOR, settings, processes)  # public: its pids(), restarts and call()

    @property
    def restarts(self) -> int:
        return self.helpers.restarts

    async def start(self) -> None:
        await self.helpers.start()

    async def evaluate(self, profile: Profile) -> Evaluated:
        answer = await self.helpers.call(_call_encoder.encode((_profile_encoder.encode(profile), request_id_var.get())))
        raw, columns = _answer_decoder.decode(answer)
        return Evaluated(raw, columns)

    async def stop(self) -> None:
        await self.helpers.stop()


def make_evaluator(settings: Settings, advisor: Advisor) -> Evaluator:
    processes = settings.evaluators if settings.evaluators is not None else default_evaluators()
    return EvaluatorPool(settings, processes) if processes > 0 else InProcessEvaluator(advisor)


def default_evaluators() -> int:
    """With a single core, evaluating in process is cheaper than passing profiles around."""
    return helper_processes(usable_cores())[0]


# --- the child process -----------------------------------------------------------------------------------


class _Evaluating:
    """The child's service: one profile at a time (each answer goes back as soon as it is ready)."""

    max_batch = 1

    def __init__(self, advisor: Advisor) -> None:
        self.advisor = advisor
        self._profiles = msgspec.json.Decoder(Profile)
        self._answers = msgspec.msgpack.Encoder()

    def handle(self, bodies: Sequence[bytes]) -> list[bytes | BaseException]:
        return [self._evaluate(body) for body in bodies]

    def _evaluate(self, body: bytes) -> bytes | BaseException:
        request_id_var.set(None)
        try:
            profile_json, http_request_id = _call_decoder.decode(body)
            request_id_var.set(http_request_id)  # every log line about this profile carries the request's id
            raw, columns = evaluated(self.advisor.assess(self._profiles.decode(profile_json)))
            return self._answers.encode((raw, columns))
        except ProfileError as exc:
            return exc
        except Exception as exc:
            log.error("evaluation failed: %s", type(exc).__name__, extra=error_fields(exc))
            return exc


@contextlib.contextmanager
def _open(settings: Settings, _notify: Notify) -> Iterator[_Evaluating]:
    yield _Evaluating(build_advisor(settings))


def main(argv: list[str] | None = None) -> None:
    helper_main(EVALUATOR, _open, argv)


if __name__ == "__main__":
    main()
