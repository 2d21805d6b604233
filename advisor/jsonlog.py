"""JSON log lines, light enough for helper processes: one object per line, with the request id, never a key.

:class:`JsonFormatter` renders any ``logging`` record as JSON (``extra=`` fields included) and scrubs
anything shaped like an API key or a bearer credential, wherever it appears. The server
(``advisor.logs``) and its helper processes (evaluators, writer: :func:`configure_helper`) use it.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import time
import traceback
from typing import Any

# Anything shaped like one of our API keys (advisor.auth.clients makes them): scrubbed wherever it appears.
KEY_PATTERN = re.compile(r"adv_cl-[0-9a-f]{16}_[A-Za-z0-9_-]+")
_BEARER = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+")  # RFC 6750 token68

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)

_RESERVED = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message", "asctime", "taskName", "color_message"}  # uvicorn's ANSI-coloured copy of the message


def scrub(value: Any) -> Any:
    """Redact anything shaped like one of our keys or a bearer credential, in strings at any depth."""
    if isinstance(value, str):
        return _BEARER.sub(r"\1[redacted]", KEY_PATTERN.sub("[redacted]", value))
    if isinstance(value, dict):
        return {key: scrub(member) for key, member in value.items()}
    if isinstance(value, list | tuple):
        return [scrub(item) for item in value]
    return value


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None) or request_id_var.get()
        if request_id:
            entry["request_id"] = request_id
        for key, value in vars(record).items():
            if key not in _RESERVED and key != "request_id" and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(scrub(entry), default=lambda v: scrub(str(v)), ensure_ascii=False)


def error_fields(exc: BaseException, with_message: bool = False) -> dict[str, Any]:
    """An error for a log line's ``extra``: its type and where it was raised. The message only when asked
    (``ADVISOR_LOG_BODIES``): it may quote the input (a profile, an SQL parameter)."""
    fields: dict[str, Any] = {"error": type(exc).__name__,
                              "traceback": "".join(traceback.format_tb(exc.__traceback__))}
    if with_message:
        fields["error_message"] = str(exc)
    return fields


class _Process(logging.Filter):
    def __init__(self, name: str) -> None:
        super().__init__()
        self.process_name = name

    def filter(self, record: logging.LogRecord) -> bool:
        record.helper = self.process_name
        return True


def configure_helper(name: str, level: int = logging.WARNING) -> None:
    """A helper process's logging: JSON lines on stderr (the server's), each naming the helper (``helper``)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(_Process(name))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
