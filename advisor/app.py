"""The one place that wires everything: ``create_app(settings)``.

Nothing here runs at import time: the rule engine, database engine, keys and writer thread are
built when the app is created (once per worker process, after any fork) and the writer is
started and stopped with the app's lifespan.
"""

from __future__ import annotations

import logging

from litestar import Litestar
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin, SwaggerRenderPlugin
from litestar.openapi.spec import Components, Contact

from advisor import __version__
from advisor.api.assess import AssessController
from advisor.api.deps import Services
from advisor.api.meta import MetaController
from advisor.api.problems import internal_error, problem_plugin
from advisor.audit.keyring import KeyRing
from advisor.costs.catalog import load_catalogs
from advisor.engine import RuleEngine
from advisor.rulebook import load_rulebook
from advisor.service import Advisor
from advisor.settings import Settings
from advisor.store.database import is_sqlite, make_engine, normalise_url
from advisor.store.repository import Repository
from advisor.store.writer import ChainWriter, begin_locked

log = logging.getLogger(__name__)


def build_advisor(settings: Settings) -> Advisor:
    rulebook = load_rulebook(settings.rules_dir)
    return Advisor(rulebook, RuleEngine(rulebook), load_catalogs(settings.catalogs_dir), settings.default_catalog)


def build_services(settings: Settings) -> Services:
    engine = make_engine(settings)
    sqlite = is_sqlite(normalise_url(settings.database_url))
    keyring = KeyRing(settings.keys_dir, settings.signing_key_file)
    writer = ChainWriter(engine, keyring, settings.log_name, settings.max_batch, sqlite)
    return Services(settings=settings, advisor=build_advisor(settings), engine=engine,
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
        render_plugins=[ScalarRenderPlugin(), SwaggerRenderPlugin(path="/swagger")],
        components=Components(),
        use_handler_docstrings=False,
    )


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or Settings.from_env()
    services = build_services(settings)

    def on_startup() -> None:
        services.writer.start()

    def on_shutdown() -> None:
        services.writer.stop()
        services.engine.dispose()

    app = Litestar(
        route_handlers=[AssessController, MetaController],
        dependencies={"services": Provide(lambda: services, use_cache=True, sync_to_thread=False)},
        plugins=[problem_plugin()],
        exception_handlers={Exception: internal_error},
        openapi_config=openapi_config(),
        request_max_body_size=settings.max_body_bytes,
        on_startup=[on_startup],
        on_shutdown=[on_shutdown],
        debug=False,
    )
    app.state.services = services
    return app
