"""Sign-in for people: an API key exchanged for a session cookie, and CSRF protection on every form.

* The cookie is Litestar's client-side session (AES-GCM, so stateless: any replica holding the same
  secret reads it). It holds the client id and when the session ends, nothing else (never the key);
  it is HttpOnly, SameSite=Strict, scoped to ``/ui``, expiring, and Secure when the request came over
  TLS (``https``, also behind a proxy that says so and that uvicorn trusts).
* Every page request looks the client up again (as every API request does), so a revoked client is
  signed out on its next request, in every replica.
* Forms carry Litestar's CSRF token (double submit, HMAC-signed); a state-changing request whose
  ``Origin`` or ``Sec-Fetch-Site`` names another site is refused before that.
* The secret is a file (``ADVISOR_UI_SECRET_FILE``, default ``<keys_dir>/ui-secret``) created 0600 on
  first start; replicas behind one address share it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import hmac
import os
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from litestar.config.csrf import CSRFConfig
from litestar.connection import ASGIConnection
from litestar.enums import ScopeType
from litestar.exceptions import PermissionDeniedException
from litestar.middleware import DefineMiddleware
from litestar.middleware.csrf import CSRFMiddleware
from litestar.middleware.session import SessionMiddleware
from litestar.middleware.session.client_side import ClientSideSessionBackend, CookieBackendConfig
from litestar.types import ASGIApp, Message, Receive, Scope, ScopeSession, Send

from advisor.auth.clients import Client, ClientStore, Principal

UI_PATH = "/ui"
SESSION_COOKIE = "advisor_session"
CSRF_COOKIE = "advisor_csrf"
_CLIENT = "client_id"
_UNTIL = "until"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


def ui_secret(path: Path) -> bytes:
    """The secret behind the session and CSRF cookies; created once (0600), atomically, by whichever worker is first."""
    with contextlib.suppress(FileNotFoundError):
        return _read_secret(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(32) + "\n")
        with contextlib.suppress(FileExistsError):  # another worker won the race: use its secret
            os.link(draft, path)
    finally:
        draft.unlink(missing_ok=True)
    return _read_secret(path)


def _read_secret(path: Path) -> bytes:
    text = path.read_text().strip()
    if len(text) < 32:
        raise ValueError(f"{path} holds no usable secret (want at least 32 hex digits)")
    return bytes.fromhex(text)


def derive(secret: bytes, purpose: str) -> bytes:
    """One key per use of the secret (session encryption, CSRF signing)."""
    return hmac.new(secret, purpose.encode("ascii"), hashlib.sha256).digest()


class TlsAwareSessionBackend(ClientSideSessionBackend):
    """Litestar's cookie session, with ``Secure`` set exactly when the request came over TLS."""

    def __init__(self, config: CookieBackendConfig) -> None:
        super().__init__(dataclasses.replace(config, secure=False))
        self._tls = ClientSideSessionBackend(dataclasses.replace(config, secure=True))

    async def store_in_message(self, scope_session: ScopeSession, message: Message,
                               connection: ASGIConnection[Any, Any, Any, Any]) -> None:
        if connection.scope.get("scheme") == "https":
            await self._tls.store_in_message(scope_session, message, connection)
        else:
            await super().store_in_message(scope_session, message, connection)


def session_config(secret: bytes, minutes: int) -> CookieBackendConfig:
    return CookieBackendConfig(secret=derive(secret, "ui-session"), key=SESSION_COOKIE, max_age=minutes * 60,
                               path=UI_PATH, httponly=True, samesite="strict")


def session_middleware(secret: bytes, minutes: int) -> DefineMiddleware:
    return DefineMiddleware(UISessionMiddleware, config=session_config(secret, minutes))


class UISessionMiddleware(SessionMiddleware[TlsAwareSessionBackend]):
    """Takes the (copyable) config: Litestar copies middleware arguments, and a backend holds a cipher."""

    def __init__(self, app: ASGIApp, config: CookieBackendConfig) -> None:
        super().__init__(app, TlsAwareSessionBackend(config))


class SameOriginCSRFMiddleware(CSRFMiddleware):
    """Litestar's CSRF check, after refusing a state-changing request that says it came from another site."""

    def __init__(self, app: ASGIApp, config: CSRFConfig) -> None:
        super().__init__(app, config)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.HTTP and scope.get("method") not in SAFE_METHODS:
            headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
            origin, site = headers.get("origin"), headers.get("sec-fetch-site")
            host = headers.get("host", "")
            own = {f"{scope.get('scheme', 'http')}://{host}"}
            if (origin is not None and origin not in own) or site == "cross-site":
                raise PermissionDeniedException("This form was sent from another site; sign in and use this "
                                                "service's own pages")
        await super().__call__(scope, receive, send)


def csrf_middleware(secret: bytes) -> DefineMiddleware:
    config = CSRFConfig(secret=derive(secret, "ui-csrf").hex(), cookie_name=CSRF_COOKIE, cookie_path=UI_PATH,
                        cookie_httponly=True, cookie_samesite="strict", header_name="x-csrf-token")
    return DefineMiddleware(SameOriginCSRFMiddleware, config=config)


def start_session(connection: ASGIConnection[Any, Any, Any, Any], client_id: str, minutes: int,
                  now: datetime | None = None) -> None:
    """Signed in: the session names the client and ends ``minutes`` from now, whatever the cookie's renewals."""
    until = (now or datetime.now(UTC)) + timedelta(minutes=minutes)
    connection.set_session({_CLIENT: client_id, _UNTIL: until.isoformat()})


def session_values(client_id: str, until: datetime) -> dict[str, str]:
    """What a session holds (tests forge expired ones with the real secret)."""
    return {_CLIENT: client_id, _UNTIL: until.isoformat()}


def signed_in_client(connection: ASGIConnection[Any, Any, Any, Any], store: ClientStore) -> Principal | None:
    """The signed-in person's principal, looked up afresh; None (and the session cleared) when there is none.

    Runs in a worker thread (it reads the database).
    """
    session = connection.scope.get("session")
    if not isinstance(session, dict) or not isinstance(session.get(_CLIENT), str):
        return None
    client: Client | None = None
    try:
        alive = datetime.fromisoformat(str(session.get(_UNTIL))) > datetime.now(UTC)
    except ValueError:
        alive = False
    if alive:
        client = store.get(session[_CLIENT])
    if client is None or client.revoked_at is not None:
        connection.clear_session()
        return None
    return Principal(client_id=client.id, name=client.name, roles=frozenset({client.role}))
