"""The one place that wires everything: ``create_app(settings)``.

Nothing here runs at import time: the rule engine, database engine, keys and writer thread are
built when the app is created (once per worker process, after any fork) and the writer is
started and stopped with the app's lifespan.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from litestar import Litestar, Router
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, Contact, SecurityScheme
from litestar.types import Middleware
from sqlalchemy import Engine

from advisor import __version__
from advisor.api.access import BEARER_SCHEME, PUBLIC_OPT, ApiKeyAuthenticationMiddleware, rate_limit_config, role_guard
from advisor.api.analysis import AnalysisController
from advisor.api.assess import AssessController
from advisor.api.audit import AuditController
from advisor.api.clients import ClientsController
from advisor.api.docs_ui import assets_router, swagger_plugin
from advisor.api.meta import MetaController
from advisor.api.metrics import MetricsController, prometheus_config
from advisor.api.openapi_schema import StrictStructSchemaPlugin
from advisor.api.problems import internal_error, problem_plugin
from advisor.api.profile_examples import PROFILE_EXAMPLES
from advisor.api.proofs import ProofController
from advisor.api.reassess import ReassessController
from advisor.api.reassess_examples import DRIFT_EXAMPLES
from advisor.api.reviews import ReviewsController
from advisor.api.strict_json import screen_request
from advisor.application.reassess import Replayer
from advisor.application.record_assessment import AssessmentRecorder
from advisor.auth.clients import ClientStore
from advisor.domain.drift import Drift
from advisor.domain.profile import Profile
from advisor.logs import RequestContextMiddleware, stamp_response
from advisor.metrics import assessment_stored, observe_commit
from advisor.services import Services
from advisor.settings import Settings
from advisor.store.assessment_log import AssessmentLog
from advisor.store.database import Database
from advisor.store.idempotency import IdempotencyStore
from advisor.store.keyring import KeyRing
from advisor.store.repository import Repository
from advisor.store.versions import VersionStore
from advisor.store.writer import Appender, BatchAppend, ChainWriter, append_batch
from advisor.ui.pages import template_config, ui_routers
from advisor.workers.evaluators import build_advisor, make_evaluator
from advisor.workers.writer import WriterProcess, wants_writer_process

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Strategies:
    """The parts another build may swap (bench's unsigned baseline), passed in rather than patched in."""

    append_batch: BatchAppend = append_batch  # how the writer thread links, signs and inserts a batch
    writer_module: str = "advisor.workers.writer"  # what a writer process runs (``python -m``)
    repository: Callable[[Engine], Repository] = field(default=Repository)  # how records are read back


def build_services(settings: Settings, strategies: Strategies = Strategies()) -> Services:
    """Everything, built once per worker process."""
    db = Database.open(settings)
    keyring = KeyRing(settings.keys_dir, settings.signing_key_file)
    writer: Appender
    if wants_writer_process(settings):
        writer = WriterProcess(settings, child_module=strategies.writer_module)
    else:
        writer = ChainWriter(db, keyring, settings.log_name, settings.max_batch, on_commit=observe_commit,
                             append_batch=strategies.append_batch)
    advisor = build_advisor(settings)
    evaluator = make_evaluator(settings, advisor)
    idempotency = IdempotencyStore(db, settings.idempotency_ttl_hours,
                                   lease_seconds=settings.idempotency_lease_seconds)
    recorder = AssessmentRecorder(evaluator, AssessmentLog(writer, on_stored=assessment_stored), idempotency)
    versions = VersionStore(db.engine)
    return Services(settings=settings, advisor=advisor, evaluator=evaluator, db=db,
                    repository=strategies.repository(db.engine), writer=writer, keyring=keyring,
                    clients=ClientStore(db), idempotency=idempotency, record_assessment=recorder,
                    versions=versions, replayer=Replayer(advisor, versions, known=[advisor.rulebook]))


def ensure_signing_key(services: Services) -> None:
    """Register a signing key on first start, under the chain lock (safe with many workers)."""
    with services.db.locked() as conn:
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


def create_app(settings: Settings | None = None, strategies: Strategies = Strategies()) -> Litestar:
    settings = settings or Settings.from_env()
    services = build_services(settings, strategies)

    async def on_startup() -> None:
        try:
            ensure_signing_key(services)
        except Exception as exc:  # e.g. schema not migrated yet: /ready reports it, appends answer 503
            log.warning("no signing key registered at start-up: %s", type(exc).__name__)
        try:  # before any record names them: the rules and catalogs this server loaded are kept by digest
            services.versions.keep(services.advisor.rulebook, services.advisor.catalogs.values())
        except Exception as exc:  # schema not migrated yet: /ready reports it
            log.warning("rule and catalog versions not kept at start-up: %s", type(exc).__name__)
        await services.writer.start_serving()
        await services.evaluator.start()

    async def on_shutdown() -> None:
        await services.evaluator.stop()
        await services.writer.stop_serving()
        services.db.dispose()

    if not settings.auth_required:
        log.warning("ADVISOR_AUTH_REQUIRED=false: requests without a key are served as an anonymous assessor, "
                    "reviewer and auditor")
    # Outermost first: request id, then authentication (401), then the per-client rate limit (429).
    middleware: list[Middleware] = [RequestContextMiddleware, prometheus_config().middleware, DefineMiddleware(
        ApiKeyAuthenticationMiddleware, store=services.clients, auth_required=settings.auth_required)]
    if settings.rate_limit_per_minute > 0:
        middleware.append(rate_limit_config(settings.rate_limit_per_minute).middleware)
    app = Litestar(
        route_handlers=[AnalysisController, AssessController, AuditController, ClientsController, MetaController,
                        MetricsController, ProofController, ReassessController, ReviewsController, assets_router(),
                        *ui_routers(settings, services.clients)],
        template_config=template_config(),
        dependencies=services.dependencies(),
        middleware=middleware,
        guards=[role_guard],
        before_request=screen_request,
        before_send=[stamp_response],
        logging_config=None,  # logging is configured by `advisor serve` (JSON lines), not by Litestar
        plugins=[problem_plugin(), StrictStructSchemaPlugin(examples={
            Profile: list(PROFILE_EXAMPLES.values()), Drift: DRIFT_EXAMPLES})],
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
