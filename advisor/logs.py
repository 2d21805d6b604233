"""Structured logs: one JSON object per line, with the request id, and never a credential.

* :class:`JsonFormatter` renders any ``logging`` record as JSON (``extra=`` fields included) and
  scrubs anything shaped like an API key or a bearer credential, wherever it appears.
* :class:`RequestContextMiddleware` (outermost route middleware) gives each request an id: a sane
  incoming ``X-Request-ID`` or a new one. Log lines written while handling it carry it.
* :func:`stamp_response` (an app-level ``before_send`` hook, so it also sees 401s and unknown routes)
  returns the id as ``X-Request-ID`` and writes one access line per request: method, path (no
  query string), status, duration, client id. Bodies are never in it.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

from litestar.datastructures import MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from advisor.auth.clients import Principal
from advisor.jsonlog import JsonFormatter, request_id_var, scrub

__all__ = ["JsonFormatter", "RequestContextMiddleware", "request_id_var", "scrub", "stamp_response",
           "uvicorn_log_config"]

REQUEST_ID_HEADER = "X-Request-ID"
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_STATE_ID = "request_id"
_STATE_START = "request_started"

access_log = logging.getLogger("advisor.access")


def uvicorn_log_config(level: str) -> dict[str, Any]:
    """``logging.config.dictConfig`` for ``advisor serve``: every logger, uvicorn's too, as JSON on stderr."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "advisor.logs.JsonFormatter"}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}},
        "root": {"handlers": ["stderr"], "level": level.upper()},
        "loggers": {name: {"handlers": [], "propagate": True} for name in ("uvicorn", "uvicorn.error",
                                                                             "uvicorn.access")},
    }


def request_id_of(scope: Scope) -> str:
    """The request's id: assigned once, from a sane ``X-Request-ID`` or new."""
    state = scope.setdefault("state", {})
    found = state.get(_STATE_ID)
    if isinstance(found, str):
        return found
    incoming = None
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            incoming = value.decode("latin-1")
            break
    request_id = incoming if incoming is not None and _SANE_REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
    state[_STATE_ID] = request_id
    return request_id


class RequestContextMiddleware:
    """Sets the request id (and start time) before anything else on the route runs."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        scope.setdefault("state", {})[_STATE_START] = time.perf_counter()
        token = request_id_var.set(request_id_of(scope))
        try:
            await self.app(scope, receive, send)
        finally:
            request_id_var.reset(token)


async def stamp_response(message: Message, scope: Scope) -> None:
    """``before_send``: ``X-Request-ID`` on every response, and its access-log line."""
    if message["type"] != "http.response.start" or scope["type"] != ScopeType.HTTP:
        return
    request_id = request_id_of(scope)
    MutableScopeHeaders.from_message(message)[REQUEST_ID_HEADER] = request_id
    started = scope.get("state", {}).get(_STATE_START)
    principal = scope.get("user")
    method = scope.get("method", "")
    access_log.info("%s %s %s", method, scope["path"], message["status"], extra={
        "request_id": request_id, "method": method, "path": scope["path"], "status": message["status"],
        "duration_ms": round((time.perf_counter() - started) * 1000, 2) if isinstance(started, float) else None,
        "client_id": principal.client_id if isinstance(principal, Principal) else None,
    })
