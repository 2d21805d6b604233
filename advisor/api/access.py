"""Authentication (Litestar ``AbstractAuthenticationMiddleware``), role guards and per-client rate limits.

* Every route needs ``Authorization: Bearer <API key>`` unless it opts out with ``exclude_from_auth=True``
  (health, readiness, the JWKS and the OpenAPI router). Missing or bad credentials: 401 with
  ``WWW-Authenticate``.
* Every authenticated route declares the roles it admits with ``opt=allow(...)``; the app-level
  :func:`role_guard` denies anything else with 403, and denies every route that declares no roles
  (a new route is closed until someone decides who may call it).
* The rate limit (Litestar ``RateLimitConfig``) is keyed on the authenticated client, runs after
  authentication (so a bad key gets 401, not 429) and adds ``Retry-After`` to its 429. Its counters
  live in process memory: the limit holds per worker process.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import anyio.to_thread
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException, TooManyRequestsException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from litestar.middleware.rate_limit import RateLimitConfig, RateLimitMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send

from advisor.api.problems import problem
from advisor.auth.clients import ANONYMOUS, ANONYMOUS_PRINCIPAL, ClientStore, Principal, Role

REALM = "llm-hosting-advisor"
ROLES_OPT = "roles"
PUBLIC_OPT = "exclude_from_auth"
BEARER_SCHEME = "bearer"
# OpenAPI: every operation needs the bearer key (document-level requirement) except those that say this.
PUBLIC_SECURITY: list[dict[str, list[str]]] = [{}]

# Who may call what; routes name one of these in ``opt=allow(...)``.
ANY_ROLE = frozenset(Role)
ASSESS = frozenset({Role.ASSESSOR})
READ_ASSESSMENTS = frozenset({Role.ASSESSOR, Role.REVIEWER, Role.AUDITOR})
AUDIT = frozenset({Role.AUDITOR})
MANAGE_CLIENTS = frozenset({Role.ADMIN})


def allow(roles: Iterable[Role]) -> dict[str, Any]:
    """``opt`` for a route handler: the roles admitted to it."""
    return {ROLES_OPT: frozenset(roles)}


def _unauthorized(detail: str, error: str | None) -> NotAuthorizedException:
    challenge = f'Bearer realm="{REALM}"' + (f', error="{error}"' if error else "")
    return NotAuthorizedException(detail, headers={"WWW-Authenticate": challenge})


class ApiKeyAuthenticationMiddleware(AbstractAuthenticationMiddleware):
    def __init__(self, app: ASGIApp, store: ClientStore, auth_required: bool = True, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self.store = store
        self.auth_required = auth_required

    async def authenticate_request(self, connection: ASGIConnection[Any, Any, Any, Any]) -> AuthenticationResult:
        sent = connection.headers.getall("authorization", [])
        # Two headers, or two joined with a comma (as a proxy may combine them; a token68 has no comma): which
        # one counts differs between proxies and frameworks, so the ambiguity is refused.
        if len(sent) > 1 or any("," in value for value in sent):
            raise problem(400, "invalid-field", "Invalid request field",
                          "`Authorization` holds more than one credential; send one", field="Authorization")
        header = sent[0] if sent else None
        if header is None:
            if not self.auth_required:
                return AuthenticationResult(user=ANONYMOUS_PRINCIPAL, auth=None)
            raise _unauthorized("Missing credential: send `Authorization: Bearer <API key>`", None)
        scheme, _, token = header.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise _unauthorized("Malformed credential: expected `Authorization: Bearer <API key>`",
                                "invalid_request")
        principal = await anyio.to_thread.run_sync(self.store.authenticate, token)
        if principal is None:
            raise _unauthorized("The API key is unknown or revoked", "invalid_token")
        # The key itself is not kept anywhere on the request (``auth`` stays empty).
        return AuthenticationResult(user=principal, auth=None)


async def role_guard(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """App-level guard: the caller's role must be one the route admits; routes admit no one by default.

    Async on purpose: Litestar runs a sync guard in a worker thread, a thread hop per request.
    """
    if handler.opt.get(PUBLIC_OPT) or connection.scope.get("method") == "OPTIONS":
        return
    principal = connection.scope.get("user")
    if not isinstance(principal, Principal):  # pragma: no cover - the middleware always sets it
        raise _unauthorized("Missing credential", None)
    admitted: frozenset[Role] = handler.opt.get(ROLES_OPT, frozenset())
    if not principal.roles & admitted:
        roles = ", ".join(sorted(admitted)) or "no role"
        raise PermissionDeniedException(f"This operation is for {roles}; the caller's role does not include it")


def principal_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal:
    principal = connection.scope.get("user")
    if not isinstance(principal, Principal):  # pragma: no cover - guarded routes always have one
        raise _unauthorized("Missing credential", None)
    return principal


def rate_limit_identifier(request: Any) -> str:
    """The authenticated client; without one (only when auth is off), the remote address."""
    principal = request.scope.get("user")
    if isinstance(principal, Principal) and principal.client_id != ANONYMOUS:
        return f"client:{principal.client_id}"
    return f"address:{request.client.host if request.client else 'unknown'}"


class ClientRateLimitMiddleware(RateLimitMiddleware):
    """Litestar's rate limiter, with ``Retry-After`` on its 429 (seconds until the window resets)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        except TooManyRequestsException as exc:
            headers = dict(exc.headers or {})
            headers["Retry-After"] = str(max(1, int(headers.get(self.config.rate_limit_reset_header_key, "60"))))
            raise TooManyRequestsException(
                f"Rate limit of {self.max_requests} requests per {self.unit} exceeded for this client",
                headers=headers) from None


def rate_limit_config(per_minute: int) -> RateLimitConfig:
    return RateLimitConfig(rate_limit=("minute", per_minute), identifier_for_request=rate_limit_identifier,
                           exclude_opt_key=PUBLIC_OPT, middleware_class=ClientRateLimitMiddleware)
