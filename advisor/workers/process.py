"""One helper-process component: spawn, talk to, restart and stop ``python -m <module>`` children.

The wire is a socket pair per child carrying length-prefixed frames (a 4-byte big-endian length
and that many bytes); measured faster than ProcessPoolExecutor and anyio.to_process by 0.1-0.2 ms
per call. The parent's first frame is the server's :class:`Settings` (the one way a child is
configured); every later frame is a call: an 8-byte call id and the caller's body. The child
answers each call with its id, a kind byte and a body, and may send notices (no call) before a
batch's answers, e.g. a writer's commit statistics for the server's /metrics.

Errors cross the boundary typed: a child raising (or returning) an exception whose type, or a
base of it, is in the helper's :class:`ErrorTypes` makes the parent's call raise that same type
with the same ``args`` and attributes. Any other error arrives as :class:`HelperFailed` (its
type's name only: messages may quote input). A child that dies fails its calls in flight with
the helper's ``lost`` error and another is started.

Children run :func:`helper_main`, whose :func:`serve` loop is the one batching loop: it takes every
call that has arrived (up to the service's ``max_batch``) and answers them together.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import itertools
import logging
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol, cast

import msgspec

from advisor.jsonlog import configure_helper
from advisor.settings import Settings

log = logging.getLogger(__name__)

HEADER = 4  # frame length, big-endian
CALL_ID = 8  # call id, big-endian, at the start of every call and answer
_OK, _ERROR, _FAILED, _NOTICE = 0, 1, 2, 3  # the kind byte after an answer's call id


# --- framing ---------------------------------------------------------------------------------------------


def frame(message: bytes) -> bytes:
    return len(message).to_bytes(HEADER, "big") + message


def _read_exactly(sock: socket.socket, size: int) -> bytes | None:
    buffer = bytearray(size)
    view = memoryview(buffer)
    got = 0
    while got < size:
        n = sock.recv_into(view[got:])
        if n == 0:
            return None
        got += n
    return bytes(buffer)


def read_frame(sock: socket.socket) -> bytes | None:
    """The next frame, or None when the other end closed (between frames or inside one)."""
    header = _read_exactly(sock, HEADER)
    return None if header is None else _read_exactly(sock, int.from_bytes(header, "big"))


def split_frames(buffer: bytearray) -> list[bytes]:
    """Remove and return the complete frames at the start of ``buffer``."""
    frames: list[bytes] = []
    start = 0
    while len(buffer) - start >= HEADER:
        end = start + HEADER + int.from_bytes(buffer[start:start + HEADER], "big")
        if len(buffer) < end:
            break
        frames.append(bytes(buffer[start + HEADER:end]))
        start = end
    if start:
        del buffer[:start]
    return frames


# --- typed errors across the boundary ------------------------------------------------------------------------


class HelperFailed(RuntimeError):
    """A helper's call failed with an error of a type its :class:`ErrorTypes` does not carry across."""


_error_encoder = msgspec.msgpack.Encoder()
_error_decoder = msgspec.msgpack.Decoder(tuple[str, list[Any], dict[str, Any]])


class ErrorTypes:
    """The exception types a helper re-raises in the parent as themselves (by name; both sides share the code).

    An error is sent as its nearest registered type (itself or a base class), its ``args`` and its
    attributes, and rebuilt without calling ``__init__`` (as pickle rebuilds an exception's state).
    """

    def __init__(self, *types: type[Exception]) -> None:
        self._types: dict[str, type[Exception]] = {}
        for kind in types:
            if kind.__name__ in self._types:
                raise ValueError(f"two error types named {kind.__name__}")
            self._types[kind.__name__] = kind

    def encode(self, error: BaseException) -> bytes | None:
        """The error as sent, or None when neither its type nor a base of it is registered."""
        for kind in type(error).__mro__:
            if self._types.get(kind.__name__) is kind:
                try:
                    return _error_encoder.encode((kind.__name__, list(error.args), dict(vars(error))))
                except (TypeError, msgspec.EncodeError):  # state msgpack cannot carry: the message at least
                    return _error_encoder.encode((kind.__name__, [str(error)], {}))
        return None

    def decode(self, body: bytes) -> Exception:
        name, args, state = _error_decoder.decode(body)
        kind = self._types[name]
        error = kind.__new__(kind, *args)
        error.args = tuple(args)
        error.__dict__.update(state)
        return error


# --- the parent's side -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HelperKind:
    """What differs between helpers: how they are named and run, and what their callers see on failure."""

    name: str  # "evaluator", "writer": the log lines' ``helper`` and the restarts metric's label
    module: str  # run as ``python -m module --fd N``
    errors: ErrorTypes
    lost: Callable[[], Exception]  # for calls in flight on a child that died
    unavailable: Callable[[], Exception]  # for calls while no child is running
    stop_timeout: float = 10.0  # seconds a child may take to finish its work at stop before it is killed
    young: float = 5.0  # a child that dies younger than this is restarted only after 2 s


class _Child(asyncio.Protocol):
    """The parent's end of one child: sends calls, matches answers to the futures waiting for them."""

    def __init__(self, pool: HelperPool, process: subprocess.Popen[bytes]) -> None:
        self.pool = pool
        self.process = process
        self.started = time.monotonic()
        self.transport: asyncio.Transport | None = None
        self.pending: dict[int, asyncio.Future[bytes]] = {}
        self._buffer = bytearray()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports are not its subclasses
        self.transport.write(frame(self.pool.settings.to_json()))

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        for message in split_frames(self._buffer):
            kind, body = message[CALL_ID], message[CALL_ID + 1:]
            if kind == _NOTICE:
                if self.pool.on_notice is not None:
                    self.pool.on_notice(body)
                continue
            future = self.pending.pop(int.from_bytes(message[:CALL_ID], "big"), None)
            if future is None or future.done():  # the call was cancelled (its client went away)
                continue
            if kind == _OK:
                future.set_result(body)
            elif kind == _ERROR:
                future.set_exception(self.pool.kind.errors.decode(body))
            else:
                future.set_exception(HelperFailed(f"{self.pool.kind.name} failed: {body.decode()}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        for future in self.pending.values():
            if not future.done():
                future.set_exception(self.pool.kind.lost())
        self.pending.clear()
        self.pool._lost(self)


class HelperPool:
    """``processes`` children of one kind; each call goes to the one with the fewest calls in flight."""

    def __init__(self, kind: HelperKind, settings: Settings, processes: int,
                 on_notice: Callable[[bytes], None] | None = None) -> None:
        self.kind = kind
        self.settings = settings
        self.processes = processes
        self.on_notice = on_notice
        self._children: list[_Child] = []
        self._ids = itertools.count(1)
        self._stopping = False
        self._restarts = 0

    @property
    def restarts(self) -> int:
        """Children that died and were replaced since this pool was made."""
        return self._restarts

    def pids(self) -> list[int]:
        """The process ids of the children now connected (tests and operators: which process to signal)."""
        return [child.process.pid for child in self._children if child.transport is not None]

    def in_flight(self) -> int:
        """Calls sent and not yet answered, over all children."""
        return sum(len(child.pending) for child in self._children)

    async def start(self) -> None:
        self._stopping = False
        for _ in range(self.processes):
            await self._spawn()

    async def _spawn(self) -> None:
        ours, theirs = socket.socketpair()
        try:
            process = subprocess.Popen([sys.executable, "-m", self.kind.module, "--fd", str(theirs.fileno())],
                                       pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL)
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        _, child = await asyncio.get_running_loop().create_connection(lambda: _Child(self, process), sock=ours)
        self._children.append(child)

    def submit(self, body: bytes) -> asyncio.Future[bytes]:
        """Send a call; its answer completes the future whether or not anyone still waits for it."""
        return self._send(body)[2]

    async def call(self, body: bytes) -> bytes:
        """Send a call and wait for its answer; cancelling the wait forgets the call (its answer is dropped)."""
        child, call, future = self._send(body)
        try:
            return await future
        finally:
            child.pending.pop(call, None)

    def _send(self, body: bytes) -> tuple[_Child, int, asyncio.Future[bytes]]:
        live = [child for child in self._children if child.transport is not None]
        if not live:
            raise self.kind.unavailable()
        child = min(live, key=lambda c: len(c.pending))
        assert child.transport is not None
        call = next(self._ids)
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        child.pending[call] = future
        child.transport.write(frame(call.to_bytes(CALL_ID, "big") + body))
        return child, call, future

    def _lost(self, child: _Child) -> None:
        if child in self._children:
            self._children.remove(child)
        if self._stopping:  # stop() waits for it (and kills it only after its timeout)
            return
        self._restarts += 1
        from advisor.metrics import HELPER_RESTARTS  # not at the top: every child imports this module

        HELPER_RESTARTS.labels(helper=self.kind.name).inc()
        _restart_later(self.kind, child.process, child.started, self._respawn)

    async def _respawn(self) -> None:
        if not self._stopping and len(self._children) < self.processes:
            await self._spawn()

    async def stop(self) -> None:
        """Close our ends (each child reads end-of-file, finishes its batch and exits), then wait for them."""
        self._stopping = True
        children, self._children = self._children, []
        for child in children:
            if child.transport is not None:
                child.transport.close()
        for child in children:
            try:
                await asyncio.to_thread(child.process.wait, self.kind.stop_timeout)
            except subprocess.TimeoutExpired:
                child.process.kill()
                await asyncio.to_thread(child.process.wait)


def _restart_later(kind: HelperKind, process: subprocess.Popen[bytes], started: float,
                   respawn: Callable[[], Awaitable[None]]) -> None:
    """Reap a child that exited and start another: at once, or after 2 s if it died young.

    A child that dies at once (a broken rules file, say) is not restarted in a tight loop.
    ``respawn`` decides itself whether one is still needed by then.
    """
    with contextlib.suppress(ProcessLookupError):
        process.kill()
    process.wait()
    delay = 0.0 if time.monotonic() - started > kind.young else 2.0
    log.warning("%s process %d exited with %s; starting another in %.0f s", kind.name, process.pid,
                process.returncode, delay)

    async def attempt() -> None:
        try:
            await respawn()
        except Exception as exc:  # pragma: no cover - e.g. out of processes; the next loss tries again
            log.error("could not start a %s process: %s", kind.name, exc)

    loop = asyncio.get_running_loop()
    loop.call_later(delay, lambda: loop.create_task(attempt()))


# --- the child's side ----------------------------------------------------------------------------------


class Service(Protocol):
    """What a child runs: answers a batch of call bodies, each with a body or an error (a value, not raised)."""

    max_batch: int

    def handle(self, bodies: Sequence[bytes]) -> Sequence[bytes | BaseException]: ...


Notify = Callable[[bytes], None]  # a service's way to send a notice (sent before the batch's answers)


def _answer(call: bytes, outcome: bytes | BaseException, errors: ErrorTypes) -> bytes:
    if not isinstance(outcome, BaseException):
        return frame(call + bytes((_OK,)) + outcome)
    encoded = errors.encode(outcome)
    if encoded is None:
        return frame(call + bytes((_FAILED,)) + type(outcome).__name__.encode())
    return frame(call + bytes((_ERROR,)) + encoded)


def serve(sock: socket.socket, service: Service, errors: ErrorTypes, notices: list[bytes]) -> None:
    """Answer every batch of calls that has arrived, until the parent closes its end and all are answered."""
    buffer = bytearray()
    waiting: collections.deque[bytes] = collections.deque()
    open_ = True
    no_call = bytes(CALL_ID)
    while open_ or waiting:
        if not waiting:
            data = sock.recv(1 << 20)
            if not data:
                return
            buffer += data
        if open_:
            with contextlib.suppress(BlockingIOError):  # take what else has arrived: a bigger batch
                while data := sock.recv(1 << 20, socket.MSG_DONTWAIT):
                    buffer += data
                open_ = False  # recv returned b"": the parent closed its end
        waiting.extend(split_frames(buffer))
        batch = [waiting.popleft() for _ in range(min(len(waiting), service.max_batch))]
        if not batch:
            continue
        outcomes = service.handle([message[CALL_ID:] for message in batch])
        sent = [frame(no_call + bytes((_NOTICE,)) + notice) for notice in notices]
        notices.clear()
        sent.extend(_answer(message[:CALL_ID], outcome, errors)
                    for message, outcome in zip(batch, outcomes, strict=True))
        sock.sendall(b"".join(sent))


def helper_main(kind: HelperKind, open_service: Callable[[Settings, Notify], AbstractContextManager[Service]],
                argv: list[str] | None = None) -> None:
    """A child's ``main``: read the settings, open the service with them, serve until end-of-file."""
    parser = argparse.ArgumentParser(description=f"A {kind.name} process of the advisor's server (started by it).")
    parser.add_argument("--fd", type=int, required=True)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group; the server stops us
    configure_helper(kind.name)  # JSON lines on the server's stderr, each naming this helper
    with socket.socket(fileno=args.fd) as sock, contextlib.suppress(BrokenPipeError, ConnectionResetError):
        first = read_frame(sock)
        if first is None:
            return
        notices: list[bytes] = []
        with open_service(Settings.from_json(first), notices.append) as service:
            serve(sock, service, kind.errors, notices)
