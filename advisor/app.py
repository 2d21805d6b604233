"""The one place that wires everything: ``create_app(settings)``.

Nothing here runs at import time: the rule engine, database engine, keys and writer thread are
built when the app is created (once per worker process, after any fork) and the writer is
started and stopped with the app's lifespan.
"""

from __future__ import annotations

import logging

from litestar import Litestar, Router
from litestar.di import Provide
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, Contact, SecurityScheme
from litestar.types import Middleware

from advisor import __version__
from advisor.api.assess import AssessController
from advisor.api.audit import AuditController
from advisor.api.clients import ClientsController
from advisor.api.deps import Services
from advisor.api.docs_ui import assets_router, swagger_plugin
from advisor.api.meta import MetaController
from advisor.api.openapi_schema import StrictStructSchemaPlugin
from advisor.api.problems import internal_error, problem_plugin
from advisor.api.profile_examples import PROFILE_EXAMPLES
from advisor.api.proofs import ProofController
from advisor.api.reviews import ReviewsController
from advisor.api.strict_json import screen_request
from advisor.audit.keyring import KeyRing
from advisor.auth.clients import ClientStore
from advisor.auth.middleware import (
    BEARER_SCHEME,
    PUBLIC_OPT,
    ApiKeyAuthenticationMiddleware,
    rate_limit_config,
    role_guard,
)
from advisor.domain.profile import Profile
from advisor.evaluators import build_advisor, make_evaluator
from advisor.logs import RequestContextMiddleware, stamp_response
from advisor.metrics import MetricsController, observe_commit, prometheus_config
from advisor.settings import Settings
from advisor.store.database import is_sqlite, make_engine, normalise_url
from advisor.store.repository import Repository
from advisor.store.writer import Appender, ChainWriter, begin_locked
from advisor.store.writer_process import WriterProcess, wants_writer_process
from advisor.ui.pages import template_config, ui_routers

log = logging.getLogger(__name__)


def build_services(settings: Settings) -> Services:
    engine = make_engine(settings)
    sqlite = is_sqlite(normalise_url(settings.database_url))
    keyring = KeyRing(settings.keys_dir, settings.signing_key_file)
    writer: Appender
    if wants_writer_process(settings):
        writer = WriterProcess(settings, sqlite)
    else:
        writer = ChainWriter(engine, keyring, settings.log_name, settings.max_batch, sqlite, on_commit=observe_commit)
    advisor = build_advisor(settings)
    return Services(settings=settings, advisor=advisor, evaluator=make_evaluator(settings, advisor), engine=engine,
                    repository=Repository(engine), writer=writer, keyring=keyring)


def ensure_signing_key(services: Services) -> None:
    """Register a signing key on first start, under the chain lock (safe with many workers)."""
    with services.engine.connect() as conn, begin_locked(conn, services.writer.sqlite):
        from advisor.store.writer import lock_head

        lock_head(conn, services.writer.sqlite)
        services.keyring.ensure_active(conn)


def openapi_config() -> OpenAPIConfig:
    return OpenAPIConfig(
        title="LLM Hosting Advisor",
        version=__version__,
        description="Rules-based advice on running LLMs as a managed API, self-hosted or hybrid, priced from "
        "a sourced catalog; every recommendation is signed and stored in a hash-chained audit log.",
        contact=Contact(name="LLM Hosting Advisor team"),
        path="/docs",
        render_plugins=[swagger_plugin()],  # served from this service: works air-gapped
        # The documents and UIs are public; everything else needs the bearer API key unless it says otherwise.
        openapi_router=Router("/docs", route_handlers=[], include_in_schema=False, opt={PUBLIC_OPT: True}),
        components=Components(security_schemes={BEARER_SCHEME: SecurityScheme(
            type="http", scheme="bearer", description="An API key issued per client (`advisor clients create`), "
            "sent as `Authorization: Bearer <key>`.")}),
        security=[{BEARER_SCHEME: []}],
        use_handler_docstrings=False,
    )


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or Settings.from_env()
    services = build_services(settings)

    async def on_startup() -> None:
        try:
            ensure_signing_key(services)
        except Exception as exc:  # e.g. schema not migrated yet: /ready reports it, appends answer 503
            log.warning("no signing key registered at start-up: %s", type(exc).__name__)
        await services.writer.start_serving()
        await services.evaluator.start()

    async def on_shutdown() -> None:
        await services.evaluator.stop()
        await services.writer.stop_serving()
        services.engine.dispose()

    if not settings.auth_required:
        log.warning("ADVISOR_AUTH_REQUIRED=false: requests without a key are served as an anonymous assessor, "
                    "reviewer and auditor")
    # Outermost first: request id, then authentication (401), then the per-client rate limit (429).
    middleware: list[Middleware] = [RequestContextMiddleware, prometheus_config().middleware, DefineMiddleware(
        ApiKeyAuthenticationMiddleware, store=ClientStore(services.engine), auth_required=settings.auth_required)]
    if settings.rate_limit_per_minute > 0:
        middleware.append(rate_limit_config(settings.rate_limit_per_minute).middleware)
    app = Litestar(
        route_handlers=[AssessController, AuditController, ClientsController, MetaController, MetricsController,
                        ProofController, ReviewsController, assets_router(), *ui_routers(settings)],
        template_config=template_config(),
        dependencies={"services": Provide(lambda: services, use_cache=True, sync_to_thread=False)},
        middleware=middleware,
        guards=[role_guard],
        before_request=screen_request,
        before_send=[stamp_response],
        logging_config=None,  # logging is configured by `advisor serve` (JSON lines), not by Litestar
        plugins=[problem_plugin(), StrictStructSchemaPlugin(examples={Profile: list(PROFILE_EXAMPLES.values())})],
        exception_handlers={Exception: internal_error},
        openapi_config=openapi_config(),
        request_max_body_size=settings.max_body_bytes,
        on_startup=[on_startup],
        on_shutdown=[on_shutdown],
        debug=False,
    )
    from advisor.api.strict_json import prepare_validators  # here, not above: keeps main's import block as it is

    prepare_validators(handler for route in app.routes for handler in getattr(route, "route_handlers", ()))
    app.state.services = services
    return app
