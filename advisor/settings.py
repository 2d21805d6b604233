"""Typed settings, read once from ``ADVISOR_*`` environment variables.

Defaults work with nothing set: a SQLite file and a signing key under ``./var``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated

import msgspec

PREFIX = "ADVISOR_"
PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    database_url: str = "sqlite:///var/advisor.db"
    rules_dir: Path = PROJECT_ROOT / "rules"
    catalogs_dir: Path = PROJECT_ROOT / "rules" / "catalogs"
    default_catalog: str = "sourced-2026-12"
    keys_dir: Path = Path("var/keys")
    signing_key_file: Path | None = None  # an Ed25519 PEM given by the operator instead of keys_dir
    log_name: str = "llm-hosting-advisor"
    max_body_bytes: Annotated[int, msgspec.Meta(ge=1024, le=10_485_760)] = 65_536
    max_batch: Annotated[int, msgspec.Meta(ge=1, le=10_000)] = 256
    idempotency_ttl_hours: Annotated[int, msgspec.Meta(ge=24)] = 24
    # How long a claimed Idempotency-Key waits for its request (its process may have died) before a retry takes it.
    idempotency_lease_seconds: Annotated[int, msgspec.Meta(ge=1, le=3600)] = 60
    rate_limit_per_minute: Annotated[int, msgspec.Meta(ge=0)] = 600
    auth_required: bool = True
    bootstrap_admin_file: Path = Path("var/admin-credential")
    log_level: str = "INFO"
    log_bodies: bool = False
    sqlite_synchronous: str = "FULL"
    db_pool_size: Annotated[int, msgspec.Meta(ge=1, le=256)] = 8
    # Evaluator processes per server process (advisor/workers/evaluators.py); 0 evaluates in the server's
    # own process; unset: one per usable core but one (see evaluators.default_evaluators).
    evaluators: Annotated[int, msgspec.Meta(ge=0, le=64)] | None = None
    # Append to the log from a writer process of its own (advisor/workers/writer.py) rather
    # than a thread that shares the server's GIL; unset: when there are two or more usable cores.
    writer_process: bool | None = None
    # Slow or stalled clients (advisor/server.py): the request line and headers must arrive within this
    # many seconds, the body within the next; an idle keep-alive connection is closed after the third.
    header_timeout_seconds: Annotated[float, msgspec.Meta(gt=0, le=3600)] = 10.0
    body_timeout_seconds: Annotated[float, msgspec.Meta(gt=0, le=3600)] = 30.0
    keep_alive_timeout_seconds: Annotated[int, msgspec.Meta(ge=1, le=3600)] = 5
    # Open connections per server process; more are closed at once, requests beyond it answered 503.
    max_connections: Annotated[int, msgspec.Meta(ge=1, le=100_000)] = 1000
    # Review policy: how many distinct reviewers' current verdict must be accept for an assessment to be accepted.
    review_accepts_required: Annotated[int, msgspec.Meta(ge=1, le=50)] = 1
    # The pages for people (advisor/ui): how long a sign-in lasts, and the secret behind its cookies (created
    # 0600 on first start; unset: <keys_dir>/ui-secret). Replicas behind one address share the file.
    ui_session_minutes: Annotated[int, msgspec.Meta(ge=5, le=7 * 24 * 60)] = 480
    ui_secret_file: Path | None = None

    def ui_secret_path(self) -> Path:
        return self.ui_secret_file or self.keys_dir / "ui-secret"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from ``ADVISOR_*`` variables; unknown ``ADVISOR_`` names are an error."""
        env = os.environ if environ is None else environ
        fields = set(cls.__struct_fields__)
        raw: dict[str, str] = {}
        for key, value in env.items():
            if not key.startswith(PREFIX):
                continue
            name = key.removeprefix(PREFIX).lower()
            if name not in fields:
                known = ", ".join(sorted(PREFIX + f.upper() for f in fields))
                raise ValueError(f"unknown setting {key}; known: {known}")
            raw[name] = value
        return msgspec.convert(raw, cls, strict=False, dec_hook=_decode_path)

    def to_json(self) -> bytes:
        """For a helper process of this server (never logged: the database URL may hold a password)."""
        return msgspec.json.encode(self, enc_hook=str)

    @classmethod
    def from_json(cls, raw: bytes) -> Settings:
        return msgspec.convert(msgspec.json.decode(raw), cls, dec_hook=_decode_path)


def _decode_path(kind: type, value: object) -> object:
    if kind is Path and isinstance(value, str):
        return Path(value)
    raise NotImplementedError


def usable_cores() -> int:
    return len(os.sched_getaffinity(0))


def helper_processes(cores: int) -> tuple[int, bool]:
    """For a server process with ``cores`` cores to itself: (evaluator processes, use a writer process?).

    The server process keeps about one core busy with HTTP; a writer process pays off only with a
    second core to run on, and every core beyond the first gets an evaluator. Several server
    processes on one host (``--workers``, co-located replicas) share its cores between them.
    """
    return max(0, cores - 1), cores >= 2
