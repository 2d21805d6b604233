"""Helper processes of a server process, and the length-prefixed frames it exchanges with them.

A helper is ``python -m <module> --fd N ...`` holding one end of a socket pair. A frame is a
4-byte big-endian length and that many bytes (msgpack, chosen by the caller).
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
from collections.abc import Callable, Sequence
from typing import TypeVar

P = TypeVar("P", bound=asyncio.Protocol)

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
