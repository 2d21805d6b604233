"""A real server on 127.0.0.1 with short deadlines: stalled and trickling clients are cut off in time, idle
keep-alive connections are closed, and connections past the cap are refused (advisor/server.py)."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from advisor.settings import Settings
from advisor.store.database import migrate
from tests.integration.cluster import Server, server_env, wait_ready
from tests.network import free_port

pytestmark = pytest.mark.slow
TIMEOUT = 2.0  # seconds, for headers, body and keep-alive alike
GRACE = 4.0  # the deadline plus this: a loaded machine may run the timer late, never early by design
CAP = 12


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    directory: Path = tmp_path_factory.mktemp("limits")
    url = f"sqlite:///{directory}/advisor.db"
    migrate(Settings(database_url=url))
    env = server_env(url, directory / "keys", ADVISOR_HEADER_TIMEOUT_SECONDS=str(TIMEOUT),
                     ADVISOR_BODY_TIMEOUT_SECONDS=str(TIMEOUT), ADVISOR_KEEP_ALIVE_TIMEOUT_SECONDS=str(int(TIMEOUT)),
                     ADVISOR_MAX_CONNECTIONS=str(CAP), ADVISOR_EVALUATORS="0", ADVISOR_WRITER_PROCESS="false")
    running = Server(port=free_port(), env=env, log_path=directory / "server.log")
    running.start()
    try:
        wait_ready([running])
        yield running
    finally:
        running.stop()


def connect(server: Server) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=5)


def seconds_until_closed(sock: socket.socket, limit: float, trickle: bytes = b"") -> float | None:
    """Read (and, with ``trickle``, send one byte every 0.3 s) until the server closes; None if it never did."""
    started = time.monotonic()
    sock.settimeout(0.3)
    sent = 0
    while time.monotonic() - started < limit:
        try:
            if not sock.recv(65536):
                return time.monotonic() - started
        except TimeoutError:
            if sent < len(trickle):
                try:
                    sock.sendall(trickle[sent:sent + 1])
                except (BrokenPipeError, ConnectionResetError):
                    return time.monotonic() - started
                sent += 1
        except ConnectionResetError:
            return time.monotonic() - started
    return None


@pytest.mark.parametrize("sent", [
    b"",  # connects and says nothing
    b"GET /health HTTP/1.1\r\nHost: x\r\n",  # stalls mid-headers (unauthenticated)
    b"POST /assess HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"a\"",
], ids=["silent", "mid-headers", "mid-body"])
def test_a_stalled_connection_is_closed_within_the_deadline(server: Server, sent: bytes) -> None:
    with connect(server) as sock:
        sock.sendall(sent)
        closed = seconds_until_closed(sock, TIMEOUT + GRACE)
    assert closed is not None, f"still open {TIMEOUT + GRACE} s later"


def test_a_trickle_does_not_extend_the_header_deadline(server: Server) -> None:
    with connect(server) as sock:
        closed = seconds_until_closed(sock, TIMEOUT + GRACE, trickle=b"GET /health HTTP/1.1\r\nX-Slow: " + b"a" * 100)
    assert closed is not None, "a byte every 0.3 s kept the connection open"


def test_an_idle_keep_alive_connection_is_closed(server: Server) -> None:
    with connect(server) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        assert sock.recv(65536).startswith(b"HTTP/1.1 200")
        closed = seconds_until_closed(sock, TIMEOUT + GRACE)
    assert closed is not None


def test_a_well_behaved_request_is_served(server: Server) -> None:
    with connect(server) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert sock.recv(65536).startswith(b"HTTP/1.1 200")


def test_two_authorization_headers_on_the_wire_are_400(server: Server) -> None:
    with connect(server) as sock:
        sock.sendall(b"GET /rules HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer a\r\n"
                     b"Authorization: Bearer b\r\n\r\n")
        assert sock.recv(65536).startswith(b"HTTP/1.1 400")


def is_closed(sock: socket.socket) -> bool:
    sock.settimeout(0.1)
    try:
        return sock.recv(1) == b""
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True


def test_connections_past_the_cap_are_closed_at_once(server: Server) -> None:
    sockets = [connect(server) for _ in range(CAP + 4)]
    try:
        time.sleep(0.3)  # well inside the header deadline: only the cap can have closed anything yet
        assert [is_closed(sock) for sock in sockets[CAP:]] == [True] * 4
        assert not is_closed(sockets[0]), "a connection within the cap was closed"
    finally:
        for sock in sockets:
            sock.close()
