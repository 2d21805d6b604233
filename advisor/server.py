"""uvicorn's HTTP protocol with the read deadlines it lacks, and a hard cap on open connections.

uvicorn times out only an idle keep-alive connection (``timeout_keep_alive``). A client that sends
half its headers, half its body, or a byte every few seconds holds a connection (and its memory)
for as long as it likes, and nothing limits how many it opens. Here:

* the request line and headers must arrive within ``ADVISOR_HEADER_TIMEOUT_SECONDS`` of the
  connection opening or of the request's first byte (a trickle cannot extend it);
* the body within ``ADVISOR_BODY_TIMEOUT_SECONDS`` of the headers;
* past ``ADVISOR_MAX_CONNECTIONS`` open connections per server process a new one is closed at once
  (and uvicorn's ``limit_concurrency``, set to the same number, answers 503 to requests beyond it).

A connection that misses a deadline is closed. Behind a reverse proxy these are a second line: the
proxy's own client timeouts and connection limits come first (see README, Deployment).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from advisor.settings import Settings

log = logging.getLogger(__name__)


@functools.cache
def _settings() -> Settings:
    return Settings.from_env()  # the same environment `advisor serve` read; once per worker process


class DeadlineHttpProtocol(HttpToolsProtocol):
    """``HttpToolsProtocol`` with header and body deadlines and a connection cap (see the module doc)."""

    _deadline: asyncio.TimerHandle | None = None
    _in_request = False

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        settings = _settings()
        if len(self.connections) > settings.max_connections:
            log.warning("connection refused: %d open connections is the cap", settings.max_connections)
            transport.close()
            return
        self._arm(settings.header_timeout_seconds, "headers")

    def data_received(self, data: bytes) -> None:
        if not self._in_request and self._deadline is None:  # the first byte of the next request on this connection
            self._arm(_settings().header_timeout_seconds, "headers")
        self._in_request = True
        super().data_received(data)

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        self._arm(_settings().body_timeout_seconds, "body")

    def on_message_complete(self) -> None:
        self._disarm()
        self._in_request = False
        super().on_message_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self, seconds: float, what: str) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._expired, what)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self, what: str) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            log.info("closing a connection whose request %s did not arrive in time", what)
            self.transport.close()
