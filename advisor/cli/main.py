"""The ``advisor`` command: serve, assess offline, migrate, write the OpenAPI document, audit."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgspec

from advisor.cli.audit import add_audit_commands
from advisor.cli.clients import add_client_commands
from advisor.settings import PROJECT_ROOT, Settings, helper_processes, usable_cores

OPENAPI_PATH = PROJECT_ROOT / "openapi" / "openapi.json"


def openapi_document() -> bytes:
    """The OpenAPI document of the app, as committed under ``openapi/`` (stable key order)."""
    import tempfile

    from advisor.app import create_app

    with tempfile.TemporaryDirectory() as scratch:  # the app is built, never started: nothing is written
        app = create_app(Settings(database_url=f"sqlite:///{scratch}/unused.db", keys_dir=Path(scratch)))
        schema = app.openapi_schema.to_schema()
        app.state.services.db.dispose()
    return msgspec.json.format(msgspec.json.encode(schema, order="sorted"), indent=2) + b"\n"


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import logging.config

    import uvicorn

    from advisor.app import build_services, ensure_signing_key
    from advisor.auth.bootstrap import prepare_access
    from advisor.logs import uvicorn_log_config
    from advisor.store.database import display_url, migrate

    if args.workers > 1 and "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        import tempfile  # each worker counts on its own: they share their counters through files here

        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="advisor-metrics-")
    if args.workers > 1:  # the workers share the host's cores: size their helper processes for their share
        evaluators, writer_process = helper_processes(max(1, usable_cores() // args.workers))
        os.environ.setdefault("ADVISOR_EVALUATORS", str(evaluators))
        os.environ.setdefault("ADVISOR_WRITER_PROCESS", "true" if writer_process else "false")
    log_config = uvicorn_log_config(settings.log_level)
    logging.config.dictConfig(log_config)
    migrate(settings)
    services = build_services(settings)
    ensure_signing_key(services)
    prepare_access(services.db, settings.bootstrap_admin_file,
                   settings.idempotency_ttl_hours)  # first start: an admin key, written to a 0600 file only
    services.db.dispose()
    logging.getLogger("advisor").info("LLM Hosting Advisor on http://%s:%s (docs at /docs), database %s", args.host,
                                      args.port, display_url(settings.database_url))
    uvicorn.run("advisor.app:create_app", factory=True, host=args.host, port=args.port, workers=args.workers,
                log_level=settings.log_level.lower(), access_log=False, log_config=log_config,
                http="advisor.server:DeadlineHttpProtocol", timeout_keep_alive=settings.keep_alive_timeout_seconds,
                limit_concurrency=settings.max_connections)
    return 0


def cmd_assess(args: argparse.Namespace, settings: Settings) -> int:
    from advisor.api.problems import split_path
    from advisor.application.evaluate import ProfileError
    from advisor.domain.profile import Profile
    from advisor.workers.evaluators import build_advisor

    try:
        profile = msgspec.json.decode(Path(args.profile).read_bytes(), type=Profile)
        recommendation = build_advisor(settings).assess(profile)
    except (msgspec.ValidationError, ProfileError) as exc:
        message, path = split_path(str(exc))
        print(f"invalid profile: {message}" + (f" at {path}" if path else ""), file=sys.stderr)
        return 2
    except (msgspec.DecodeError, OSError) as exc:
        print(f"cannot read profile: {exc}", file=sys.stderr)
        return 2
    if args.json:
        sys.stdout.write(msgspec.json.format(msgspec.json.encode(recommendation)).decode() + "\n")
        return 0
    from advisor.cli.report import render_table

    print(render_table(recommendation))
    return 0


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    from advisor.store.database import downgrade, migrate

    if args.downgrade:
        downgrade(settings, args.downgrade)
    else:
        migrate(settings, args.revision)
    print(f"database at {'revision ' + args.downgrade if args.downgrade else args.revision}", file=sys.stderr)
    return 0


def cmd_openapi(args: argparse.Namespace, _settings: Settings) -> int:
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_bytes(openapi_document())
    print(f"wrote {output}", file=sys.stderr)
    return 0


def add_impact_command(sub: Any) -> None:
    impact = sub.add_parser("impact", help="replay the latest record of every chain under proposed rules and "
                            "catalogs; exit 3 when a decision flips (writes nothing)")
    impact.add_argument("--rules", type=Path, help="the proposed rules directory (default: the configured rules)")
    impact.add_argument("--catalogs", type=Path, help="the proposed catalogs directory (default: the configured)")
    for name in ("organization", "requester", "rules-digest", "created-from", "created-to"):
        impact.add_argument(f"--{name}", help="as the GET /assessments filter of that name")
    impact.add_argument("--decision", choices=("managed", "self_hosted", "hybrid"))
    impact.add_argument("--strength", choices=("mandatory", "clear", "marginal"))
    impact.add_argument("--json", action="store_true", help="print the report as JSON")
    impact.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    impact.set_defaults(func=cmd_impact)


def cmd_impact(args: argparse.Namespace, settings: Settings) -> int:
    from advisor.cli.impact import cmd_impact as run

    return run(args, settings)


def cmd_adr(args: argparse.Namespace, settings: Settings) -> int:
    """A stored assessment as a MADR decision record (the text of ``GET /assessments/{id}/adr``)."""
    from advisor.audit.record import Assessment
    from advisor.reports.adr import decision_record
    from advisor.store.database import Database
    from advisor.store.errors import RecordIntegrityError
    from advisor.store.repository import Repository

    db = Database.open(settings)
    repository = Repository(db.engine)
    required = settings.review_accepts_required
    try:
        body = repository.get(args.id)
        if body is None:
            print(f"no assessment {args.id}", file=sys.stderr)
            return 1
        text = decision_record(msgspec.json.decode(body, type=Assessment), repository.reviews(args.id),
                               repository.statuses([args.id], required)[args.id], required)
    except RecordIntegrityError as exc:
        print(f"cannot write a decision record: {exc}", file=sys.stderr)
        return 1
    finally:
        db.dispose()
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="advisor", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="migrate the database and start the HTTP service")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.set_defaults(func=cmd_serve)
    assess = sub.add_parser("assess", help="evaluate a profile offline, without a database")
    assess.add_argument("profile", help="path to a profile JSON file")
    assess.add_argument("--json", action="store_true", help="print the API's JSON instead of a table")
    assess.set_defaults(func=cmd_assess)
    migrate = sub.add_parser("migrate", help="upgrade (or downgrade) the database schema")
    migrate.add_argument("--revision", default="head")
    migrate.add_argument("--downgrade", metavar="REVISION", help="downgrade to REVISION (e.g. base)")
    migrate.set_defaults(func=cmd_migrate)
    openapi = sub.add_parser("openapi", help="write the OpenAPI document")
    openapi.add_argument("--output", default=str(OPENAPI_PATH))
    openapi.set_defaults(func=cmd_openapi)
    adr = sub.add_parser("adr", help="write a stored assessment as a decision record (Markdown, MADR)")
    adr.add_argument("id", help="the assessment's id")
    adr.add_argument("--output", metavar="FILE", help="write to FILE instead of standard output")
    adr.set_defaults(func=cmd_adr)
    add_audit_commands(sub)  # verify, export, checkpoint, keys rotate
    add_client_commands(sub)  # clients create|list|revoke
    add_impact_command(sub)  # replay chain heads under proposed rules and catalogs
    return parser


# Commands that only read or change an existing database: they never create one.
NEEDS_DATABASE = frozenset({"verify", "export", "checkpoint", "keys", "clients", "impact", "adr"})


def reads_database(args: argparse.Namespace) -> bool:
    """Whether this command reads the database: ``verify`` does not with --file, nor with two
    checkpoints, --proof and the keys to trust (--jwks or --vkey)."""
    if args.command not in NEEDS_DATABASE:
        return False
    if args.command != "verify":
        return True
    if args.file:
        return False
    offline_consistency = len(args.checkpoint or []) == 2 and args.proof and (args.jwks or args.vkey)
    return not offline_consistency


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
    except (ValueError, msgspec.ValidationError) as exc:
        print(f"bad settings: {exc}", file=sys.stderr)
        return 2
    from advisor.store.database import require_database
    from advisor.store.errors import NoDatabase

    try:
        if reads_database(args):
            require_database(settings)
        code: int = args.func(args, settings)
    except NoDatabase as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except BrokenPipeError:  # `advisor assess x.json | head`: the reader left; nothing to say, nobody to say it to
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so the interpreter's own flush at exit does not fail again
        return 141  # 128 + SIGPIPE, as a shell tool killed by it would report
    return code
