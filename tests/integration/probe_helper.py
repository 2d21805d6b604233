"""A helper process for testing :mod:`advisor.workers.process` itself: it echoes, refuses, fails or dies on request.

Run as ``python -m tests.integration.probe_helper --fd N`` only by the tests' :class:`HelperPool`.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator, Sequence

from advisor.settings import Settings
from advisor.workers.process import ErrorTypes, HelperKind, Notify, helper_main


class Refused(Exception):
    """A registered error whose ``__init__`` takes a keyword: rebuilt in the parent without calling it."""

    def __init__(self, message: str, *, code: int) -> None:
        super().__init__(message)
        self.code = code


class RefusedLoudly(Refused):
    """Not registered itself: it crosses as its registered base, :class:`Refused`."""


class ProbeLost(RuntimeError):
    """What calls in flight get when the probe process dies."""


class ProbeDown(RuntimeError):
    """What calls get while no probe process runs."""


PROBE = HelperKind(name="probe", module="tests.integration.probe_helper", errors=ErrorTypes(Refused),
                   lost=lambda: ProbeLost("the probe died"), unavailable=lambda: ProbeDown("no probe"),
                   stop_timeout=10, young=0.0)


class _Probe:
    max_batch = 64

    def __init__(self, notify: Notify) -> None:
        self.notify = notify

    def handle(self, bodies: Sequence[bytes]) -> list[bytes | BaseException]:
        return [self._one(body) for body in bodies]

    def _one(self, body: bytes) -> bytes | BaseException:
        command, _, rest = body.partition(b":")
        if command == b"crash":
            os._exit(3)
        if command == b"slow":
            time.sleep(float(rest))
        if command == b"refuse":
            return Refused(rest.decode(), code=7)
        if command == b"refuse-loudly":
            return RefusedLoudly(rest.decode(), code=9)
        if command == b"fail":
            return KeyError(rest.decode())
        if command == b"notice":
            self.notify(rest)
        if command == b"pid":
            return str(os.getpid()).encode()
        return rest


@contextlib.contextmanager
def _open(_settings: Settings, notify: Notify) -> Iterator[_Probe]:
    yield _Probe(notify)


if __name__ == "__main__":
    helper_main(PROBE, _open)
