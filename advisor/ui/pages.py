"""The pages: sign-in and sign-out, the assessments list, one assessment (HTML, rendered on the server).

The UI router is public to the API's bearer middleware (a browser sends a session cookie, not a key);
:func:`ui_guard` does the same job for it: a session looked up afresh on every request, the route's
roles checked against the client's. Forms are CSRF-checked (advisor.ui.session).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import anyio.to_thread
import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency, Provide
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
    ValidationException,
)
from litestar.handlers.base import BaseRouteHandler
from litestar.params import FromQuery
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect, Template
from litestar.router import Router
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig
from litestar.types import Guard

from advisor.analysis.service import Analysis
from advisor.analysis.what_if import Flip, Shocks
from advisor.api.access import PUBLIC_OPT, READ_ASSESSMENTS, ROLES_OPT, allow
from advisor.api.audit import assessment_page, parse_cursor, verify_record
from advisor.api.reviews import WriterDep, adr_text, record_review, reviews_of
from advisor.api.rfc3339 import parse_rfc3339
from advisor.api.stored import readable_assessment, reader_scope
from advisor.api.strict_json import PathText, QueryText, screen_query
from advisor.application.evaluate import ProfileError
from advisor.audit.formats import STORED_TIME
from advisor.audit.record import Assessment
from advisor.auth.clients import ClientStore, Principal, Role
from advisor.domain.decision import LABELS
from advisor.domain.profile import OPTION_NAMES
from advisor.domain.review import STATUSES, ReviewRequest, policy_text
from advisor.settings import Settings
from advisor.store.database import Database
from advisor.store.repository import ListFilter, Repository
from advisor.ui.chart import Chart, chart_of
from advisor.ui.session import (
    UI_PATH,
    csrf_middleware,
    session_middleware,
    signed_in_client,
    start_session,
    ui_secret,
)

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
OPEN_OPT = "ui_open"
PAGE = 50  # the sign-in page and its form: no session needed


class SignInRequired(NotAuthorizedException):
    """No session, an expired one, or its client revoked: back to the sign-in form."""


def ui_guard(clients: ClientStore) -> Guard:
    """The UI's authentication and role check (the API's bearer middleware does not run here), against the
    client store ``create_app`` wired (a guard is not given dependencies, so it is given the store here)."""

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
        if handler.opt.get(OPEN_OPT):
            return
        principal = await anyio.to_thread.run_sync(signed_in_client, connection, clients)
        if principal is None:
            raise SignInRequired("Sign in first")
        connection.scope["user"] = principal
        admitted: frozenset[Role] = handler.opt.get(ROLES_OPT, frozenset())
        if not principal.roles & admitted:
            roles = ", ".join(sorted(admitted)) or "no role"
            raise PermissionDeniedException(f"This page is for {roles}; your role does not include it")

    return guard


def viewer(request: Request[Any, Any, Any]) -> Principal:
    principal = request.scope.get("user")
    assert isinstance(principal, Principal)  # ui_guard set it
    return principal


def to_sign_in(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """Where a page without a valid session goes: the sign-in form, then back (same-origin paths only)."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return Redirect(f"{UI_PATH}/sign-in?{urlencode({'next': target})}", status_code=303)


def error_page(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    """A refused page as a page (403, 404), for a person rather than a program."""
    return Template("error.html.j2", status_code=exc.status_code,
                    context={"status": exc.status_code, "detail": exc.detail, "viewer": request.scope.get("user")})


def safe_next(value: str | None) -> str:
    """Only a path of this UI: never another site (an open redirect)."""
    if value and (value == UI_PATH or value.startswith(f"{UI_PATH}/")) and "\\" not in value:
        return value
    return f"{UI_PATH}/"


def _bound(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return parse_rfc3339(value if "T" in value else f"{value}T00:00:00Z").strftime(STORED_TIME)
    except ValueError:
        return None


class Analyses:
    """The chart and flip points of recently opened records, per process.

    A stored record never changes and the rules and catalogs are loaded once per process, so the analysis
    of a record is the same on every view; drawing it (what-if searches, matplotlib) costs far more than
    the rest of the page.
    """

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._found: OrderedDict[str, tuple[Chart | None, list[Flip]]] = OrderedDict()
        self._lock = threading.Lock()

    def of(self, analysis: Analysis, record: Assessment) -> tuple[Chart | None, list[Flip]]:
        with self._lock:
            if record.id in self._found:
                self._found.move_to_end(record.id)
                return self._found[record.id]
        found = analysed(analysis, record)
        with self._lock:
            self._found[record.id] = found
            while len(self._found) > self.size:
                self._found.popitem(last=False)
        return found


def analysed(analysis: Analysis, record: Assessment) -> tuple[Chart | None, list[Flip]]:
    """The cost curve and the what-if flip points around the record's profile (advisor.analysis), with the rules
    and catalog loaded now; none when the profile can no longer be assessed (e.g. its catalog is gone)."""
    try:
        found = analysis.what_if(record.profile, Shocks())
    except ProfileError:
        return None, []
    title = f"Monthly cost against daily volume for {record.profile.organization.name}"
    return chart_of(found.curve, title), list(found.flips)


def review_permission(principal: Principal, record: Assessment) -> tuple[bool, str | None]:
    """Whether this person may review this assessment, and if not, why (shown under the reviews)."""
    if Role.REVIEWER not in principal.roles:
        return False, "Only reviewers record verdicts."
    if principal.client_id == record.requester:
        return False, "You requested this assessment, so you may not review it."
    return True, None


def money(value: object) -> str:
    """``"2250.59"`` as ``$2,250.59`` (the record keeps decimal strings; the page adds separators only)."""
    if value is None:
        return "not priced"
    whole, _, cents = str(value).partition(".")
    return f"${int(whole):,}.{(cents + '00')[:2]}"


class UIController(Controller):
    path = "/"
    include_in_schema = False
    exception_handlers = {SignInRequired: to_sign_in, PermissionDeniedException: error_page,
                          NotFoundException: error_page, ValidationException: error_page}
    opt = {PUBLIC_OPT: True}

    @get("/sign-in", opt={OPEN_OPT: True}, name="ui-sign-in")
    async def sign_in_form(self, next: QueryText = None) -> Template:
        return Template("sign_in.html.j2", context={"next": safe_next(next), "error": None})

    @post("/sign-in", opt={OPEN_OPT: True}, status_code=303)
    async def sign_in(self, request: Request[Any, Any, Any], clients: NamedDependency[ClientStore],
                      settings: NamedDependency[Settings]) -> Response[Any]:
        form = await request.form()
        key, target = str(form.get("api_key", "")).strip(), safe_next(str(form.get("next", "")))
        principal = await anyio.to_thread.run_sync(clients.authenticate, key) if key else None
        if principal is None:
            return Template("sign_in.html.j2", status_code=401,
                            context={"next": target, "error": "That key is unknown or revoked."})
        start_session(request, principal.client_id, settings.ui_session_minutes)
        return Redirect(target, status_code=303)

    @post("/sign-out", status_code=303, opt={OPEN_OPT: True})
    async def sign_out(self, request: Request[Any, Any, Any]) -> Response[Any]:
        request.clear_session()
        return Redirect(f"{UI_PATH}/sign-in", status_code=303)

    @get("/", opt=allow(READ_ASSESSMENTS), sync_to_thread=True, name="ui-list")
    def assessments(self, request: Request[Any, Any, Any], repository: NamedDependency[Repository],
                    settings: NamedDependency[Settings],
                    organization: FromQuery[str | None] = None, decision: FromQuery[str | None] = None,
                    strength: FromQuery[str | None] = None, status: FromQuery[str | None] = None,
                    created_from: FromQuery[str | None] = None, created_to: FromQuery[str | None] = None,
                    cursor: FromQuery[str | None] = None) -> Template:
        # The filter form's fields are declared (so the query screening knows them) but read leniently: a
        # person's typo in a filter gives an unfiltered page, not an error page.
        principal = viewer(request)
        given = {"organization": organization, "decision": decision, "strength": strength, "status": status,
                 "created_from": created_from, "created_to": created_to}
        chosen = {name: (value or "").strip() for name, value in given.items()}
        where = ListFilter(organization=chosen["organization"] or None,
                           decision=chosen["decision"] or None, strength=chosen["strength"] or None,
                           requester=reader_scope(principal),
                           created_from=_bound(chosen["created_from"]), created_to=_bound(chosen["created_to"]))
        try:
            position = parse_cursor(cursor or None)
        except HTTPException:
            position = None
        wanted = chosen["status"] if chosen["status"] in STATUSES else None
        page = assessment_page(repository, where, position, PAGE, wanted, settings.review_accepts_required)
        older = None
        if page.next_cursor is not None:
            older = "?" + urlencode({**{k: v for k, v in chosen.items() if v}, "cursor": page.next_cursor})
        items = page.items
        status_by_id = {item.id: item.status for item in items}
        return Template("list.html.j2", context={"viewer": principal, "items": items, "chosen": chosen,
                                                 "older": older, "labels": LABELS, "statuses": STATUSES,
                                                 "status_by_id": status_by_id})

    @get("/assessments/{record_id:str}", opt=allow(READ_ASSESSMENTS), sync_to_thread=True, name="ui-assessment")
    def assessment(self, record_id: PathText, request: Request[Any, Any, Any],
                   repository: NamedDependency[Repository], settings: NamedDependency[Settings],
                   analysis: NamedDependency[Analysis], analyses: NamedDependency[Analyses]) -> Template:
        principal = viewer(request)
        record = readable_assessment(repository, principal, record_id)
        reviews = reviews_of(repository, settings.review_accepts_required, record_id)
        status = reviews.status
        chart, flips = analyses.of(analysis, record)
        can_review, review_note = review_permission(principal, record)
        return Template("assessment.html.j2", context={
            "viewer": principal, "a": record, "labels": LABELS, "money": money, "status": status,
            "options": [(name, LABELS[name], record.options.get(name)) for name in OPTION_NAMES],
            "reviews": reviews.reviews, "can_review": can_review, "review_note": review_note,
            "policy": policy_text(settings.review_accepts_required),
            "can_verify": Role.AUDITOR in principal.roles, "flips": flips, "chart": chart,
        })


    @post("/assessments/{record_id:str}/reviews", opt=allow({Role.REVIEWER}), status_code=303)
    async def review(self, record_id: PathText, request: Request[Any, Any, Any],
                     repository: NamedDependency[Repository], writer: WriterDep) -> Response[Any]:
        """The review form: the same signed review record as ``POST /assessments/{id}/reviews``."""
        verdict = _verdict(await request.form())
        await record_review(repository, writer, viewer(request), record_id, verdict)
        return Redirect(f"{UI_PATH}/assessments/{record_id}#reviews-h", status_code=303)

    @get("/assessments/{record_id:str}/adr", opt=allow(READ_ASSESSMENTS), sync_to_thread=True)
    def adr(self, record_id: PathText, request: Request[Any, Any, Any], repository: NamedDependency[Repository],
            settings: NamedDependency[Settings]) -> Response[str]:
        """The decision record as a file to save (the API serves the same text inline)."""
        text = adr_text(repository, settings.review_accepts_required, viewer(request), record_id)
        return Response(text, media_type="text/markdown",
                        headers={"Content-Disposition": f'attachment; filename="adr-{record_id}.md"'})

    @get("/assessments/{record_id:str}/verification", opt=allow({Role.AUDITOR}), sync_to_thread=True)
    def verification(self, record_id: PathText, request: Request[Any, Any, Any], db: NamedDependency[Database],
                     settings: NamedDependency[Settings]) -> Template:
        """The record's verification (``GET /assessments/{id}/verification``), for an auditor in a browser."""
        checked = verify_record(db, settings.log_name, record_id)
        return Template("verification.html.j2", context={
            "viewer": viewer(request), "id": record_id, "checks": msgspec.to_builtins(checked)})

async def screen_ui_request(request: Request[Any, Any, Any]) -> None:
    """The app's query screening, without its JSON-only body rule (the forms are url-encoded)."""
    screen_query(request)


def _verdict(form: Any) -> ReviewRequest:
    try:
        return msgspec.convert({"verdict": form.get("verdict"), "comment": str(form.get("comment", ""))},
                               ReviewRequest)
    except msgspec.ValidationError as exc:
        raise ValidationException(f"Choose accept, request changes or reject: {exc}") from None


def ui_routers(settings: Settings, clients: ClientStore) -> list[Router]:
    """The pages (session and CSRF middleware on them only, signed-in clients looked up in ``clients``) and their
    style sheet (public: the sign-in page needs it, and it is the same for everyone)."""
    secret = ui_secret(settings.ui_secret_path())
    analyses = Analyses()
    pages = Router(UI_PATH, route_handlers=[UIController], before_request=screen_ui_request, guards=[ui_guard(clients)],
                   dependencies={"analyses": Provide(lambda: analyses, use_cache=True, sync_to_thread=False)},
                   middleware=[csrf_middleware(secret), session_middleware(secret, settings.ui_session_minutes)])
    static = create_static_files_router(path=f"{UI_PATH}/static", directories=[STATIC], opt={PUBLIC_OPT: True},
                                        include_in_schema=False, name="ui-static")
    return [pages, static]


def template_config() -> TemplateConfig[JinjaTemplateEngine]:
    return TemplateConfig(directory=TEMPLATES, engine=JinjaTemplateEngine)
