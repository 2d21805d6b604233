"""Helper processes of a server process, and the length-prefixed frames it exchanges with them.

A helper is ``python -m <module> --fd N ...`` holding one end of a socket pair. A frame is a
4-byte big-endian length and that many bytes (msgpack, chosen by the caller).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

P = TypeVar("P", bound=asyncio.Protocol)
log = logging.getLogger(__name__)

HEADER = 4


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
    """Remove and return the complete frames at the start of ``buffer`` (an asyncio protocol's)."""
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


async def spawn_helper(module: str, arguments: Sequence[str],
                       protocol: Callable[[subprocess.Popen[bytes]], P]) -> P:
    """Start ``python -m module --fd N *arguments``; ``protocol(process)`` serves our end on this loop."""
    ours, theirs = socket.socketpair()
    try:
        process = subprocess.Popen([sys.executable, "-m", module, "--fd", str(theirs.fileno()), *arguments],
                                   pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL)
    except BaseException:
        ours.close()
        raise
    finally:
        theirs.close()
    _, served = await asyncio.get_running_loop().create_connection(lambda: protocol(process), sock=ours)
    return served


def restart_later(what: str, process: subprocess.Popen[bytes], started: float,
                  respawn: Callable[[], Awaitable[None]]) -> None:
    """Reap a helper that exited and start another: at once, or after 2 s if it died young.

    A helper that dies at once (a broken rules file, say) is not restarted in a tight loop.
    ``respawn`` decides itself whether one is still needed by then.
    """
    with contextlib.suppress(ProcessLookupError):
        process.kill()
    process.wait()
    delay = 0.0 if time.monotonic() - started > 5 else 2.0
    log.warning("%s process %d exited with %s; starting another in %.0f s", what, process.pid, process.returncode,
                delay)

    async def attempt() -> None:
        try:
            await respawn()
        except Exception as exc:  # pragma: no cover - e.g. out of processes; the next loss tries again
            log.error("could not start a %s process: %s", what, exc)

    loop = asyncio.get_running_loop()
    loop.call_later(delay, lambda: loop.create_task(attempt()))


async def stop_helpers(helpers: Sequence[tuple[asyncio.BaseTransport | None, subprocess.Popen[bytes]]],
                       timeout: float) -> None:
    """Close our ends (each helper reads end-of-file, finishes its work and exits), then wait for them."""
    for transport, _ in helpers:
        if transport is not None:
            transport.close()
    for _, process in helpers:
        try:
            await asyncio.to_thread(process.wait, timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            await asyncio.to_thread(process.wait)
