"""The one strict door for request input (an app-level ``before_request`` hook): bodies, path and query.

Every POST/PUT/PATCH with a body goes through here, whatever its route:

* a body that is not ``application/json`` (or ``+json``) is 415 (before, ``text/plain`` reached
  Litestar's own decoder and skipped the checks below);
* nesting deeper than :data:`MAX_DEPTH` is 400, found by a scan of the bracket bytes *before* any
  parser recurses;
* what is not JSON is 400: invalid UTF-8 (with the byte offset), ``NaN``/``Infinity``, integers past
  4300 digits;
* a member name twice in one object is 400 with its path (RFC 8259 leaves it to the parser, and
  parsers disagree on which wins);
* a string the databases cannot hold (NUL, lone UTF-16 surrogates) is 400 naming the field, in the
  body and in every path and query parameter: PostgreSQL refuses NUL in text, which used to fail a
  whole writer batch, and surrogates have no UTF-8 form;
* the body is checked against the JSON Schema msgspec generates for the route's body type (its
  ``data`` parameter, or ``opt[BODY_OPT]`` for a handler that decodes its own bytes), and every
  invalid field is listed at once (the RFC 9457 ``errors`` extension member), where msgspec stops
  at the first. The schema's regular expressions follow ECMA-262, as JSON Schema says, so ``$``
  ends the string: ``"eu\\n"`` no longer passes ``^[a-z]{2,10}$``.

Typed decoding (msgspec) still runs in the handler or in Litestar afterwards, on input known good.
"""

from __future__ import annotations

import functools
import json
import math
import operator
import re
from itertools import accumulate
from typing import Annotated, Any

import jsonschema_rs
import msgspec
from litestar import Request
from litestar.params import Parameter, ParameterKwarg
from litestar.typing import FieldDefinition

from advisor.api.openapi_schema import STORABLE
from advisor.api.problems import FieldError, problem

# Path and query parameters as documented: no NUL (refused by :func:`screen_query` before Litestar parses them).
PathText = Annotated[str, Parameter(pattern=STORABLE)]
QueryText = Annotated[str | None, Parameter(pattern=STORABLE)]

JSON_METHODS = frozenset({"POST", "PUT", "PATCH"})
BODY_OPT = "json_body"  # opt key: the type a handler decodes from its raw body itself
MAX_DEPTH = 32  # a profile nests 3 deep; nothing this service takes comes near 32
_PARSED_STATE = "strict_json_value"
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')  # a JSON string (unrolled: no backtracking blow-up)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_MAX_DETAIL = 160
_INTEGER = re.compile(r"-?[0-9]{1,18}")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


class _Pairs(list[tuple[str, Any]]):
    """An object as its member list, duplicates kept (the path-tracking pass)."""


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def _first_duplicate(value: Any, path: str) -> str | None:
    if isinstance(value, _Pairs):
        seen: set[str] = set()
        for key, member in value:
            where = _join(path, key)
            if key in seen:
                return where
            seen.add(key)
            found = _first_duplicate(member, where)
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = _first_duplicate(item, _join(path, index))
            if found is not None:
                return found
    return None


def is_json_media(content_type: str) -> bool:
    media = content_type.split(";")[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


def nesting_depth(body: bytes) -> int:
    """How deep arrays and objects nest, counted on the bracket bytes outside strings (no recursion)."""
    brackets = _STRING.sub(b"", body).translate(None, _NOT_BRACKETS)
    if not brackets:
        return 0
    return max(accumulate(1 if b in b"[{" else -1 for b in brackets))


def unstorable(text: str) -> str | None:
    """The first character no store can hold (NUL; a lone surrogate has no UTF-8 form), as ``U+XXXX``."""
    if "\x00" in text:
        return "U+0000"
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            return f"U+{ord(text[exc.start]):04X}"
    return None


def _check_values(value: Any, path: str) -> None:
    """Every string (member names too) storable, every number finite (``1e400`` parses as infinity)."""
    if isinstance(value, str):
        refuse_unstorable(path or "$", value)
    elif isinstance(value, float) and not math.isfinite(value):
        raise problem(400, "invalid-field", "Invalid request field",
                      f"Field `{path or '$'}` is a number beyond the range of a double", field=path or "$")
    elif isinstance(value, dict):
        for key, member in value.items():
            where = _join(path, key)
            if unstorable(key) is not None:  # named escaped: the problem itself must be storable JSON text
                refuse_unstorable(_join(path, ascii(key)[1:-1]), key)
            _check_values(member, where)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_values(item, _join(path, index))


def shown(name: str) -> str:
    """A field's name as a problem can carry it: a name that itself holds NUL or a lone surrogate is shown
    escaped as member names are (``a\\x00``), since a problem's text holds no NUL either (the document says so)."""
    return name if unstorable(name) is None else ascii(name)[1:-1]


def refuse_unstorable(field: str, text: str, what: str = "Field") -> None:
    bad = unstorable(text)
    if bad is not None:
        name = shown(field)
        raise problem(400, "invalid-field", "Invalid request field",
                      f"{what} `{name}` contains {bad}, a character that cannot be stored", field=name)


def parse(body: bytes) -> Any:
    """The body as a JSON value, or a 400 problem when it is not unambiguous, storable JSON."""
    depth = nesting_depth(body)
    if depth > MAX_DEPTH:
        raise problem(400, "malformed-json", "Malformed JSON",
                      f"JSON is nested {depth} levels deep; at most {MAX_DEPTH} are accepted")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise problem(400, "malformed-json", "Malformed JSON",
                      f"The body is not valid UTF-8: {exc.reason} at byte {exc.start}") from None
    duplicates = False

    def pairs_hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        nonlocal duplicates
        members = dict(pairs)
        if len(members) != len(pairs):
            duplicates = True
        return members

    try:
        value = json.loads(text, object_pairs_hook=pairs_hook, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise problem(400, "malformed-json", "Malformed JSON",
                      f"JSON is malformed: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
    except ValueError as exc:  # NaN/Infinity, or an integer too long to convert
        raise problem(400, "malformed-json", "Malformed JSON", f"JSON is malformed: {exc}") from None
    if duplicates:
        path = _first_duplicate(json.loads(text, object_pairs_hook=_Pairs), "") or "$"
        raise problem(400, "duplicate-field", "Duplicate field",
                      f"Field `{path}` appears more than once in its object", field=path)
    _check_values(value, "")
    return value


@functools.cache
def _validator(kind: type) -> Any:
    return jsonschema_rs.validator_for(msgspec.json.schema(kind))


def prepare_validators(app_handlers: Any) -> None:
    """Build every route's body validator now: a pattern JSON Schema's regex dialect (ECMA-262) cannot compile
    fails the app's start, not a request."""
    for handler in app_handlers:
        declared = handler.opt.get(BODY_OPT)
        data = handler.parsed_fn_signature.parameters.get("data")
        for kind in (declared, getattr(data, "annotation", None)):
            if isinstance(kind, type):
                _validator(kind)


def _error_field(error: Any) -> str:
    path = ""
    for part in error.instance_path:
        path = _join(path, part)
    kind = error.kind
    if kind.name == "required":
        path = _join(path, str(kind.property))
    elif kind.name == "additionalProperties" and kind.unexpected:
        path = _join(path, str(kind.unexpected[0]))
    return path or "$"


def schema_errors(kind: type, value: Any) -> list[FieldError]:
    """Every way ``value`` breaks ``kind``'s JSON Schema, each with its field path (sorted, de-duplicated)."""
    validator = _validator(kind)
    if validator.is_valid(value):
        return []
    found: dict[tuple[str, str], None] = {}
    for error in validator.iter_errors(value):
        message = str(error.message)
        if len(message) > _MAX_DETAIL:  # messages quote the value: a 60 KB string is not repeated back
            message = f"the value breaks the `{error.kind.name}` constraint"
        found[(_error_field(error), message)] = None
    return [FieldError(field=field, detail=detail) for field, detail in sorted(found)]


def invalid_fields(errors: list[FieldError]) -> Exception:
    first = errors[0]
    more = f" (and {len(errors) - 1} more: see `errors`)" if len(errors) > 1 else ""
    return problem(400, "invalid-field", "Invalid request field", f"{first.detail} at `{first.field}`{more}",
                   field=first.field, errors=errors)


def body_type(request: Request[Any, Any, Any]) -> type | None:
    """The type the route's body must have: ``opt[BODY_OPT]``, else its ``data`` parameter's type."""
    handler = request.route_handler
    declared = handler.opt.get(BODY_OPT)
    if isinstance(declared, type):
        return declared
    data = handler.parsed_fn_signature.parameters.get("data")
    annotation = getattr(data, "annotation", None)
    return annotation if isinstance(annotation, type) else None


# Handler parameters Litestar fills from the request itself, never from the query string.
_RESERVED = frozenset({"request", "data", "state", "scope", "socket", "headers", "cookies", "query", "body"})


def query_parameters(request: Request[Any, Any, Any]) -> dict[str, FieldDefinition]:
    """The route's query parameters by the name a client sends: ``QueryParameter(name="from")`` is ``from``.

    Path parameters, headers, cookies, dependencies and the request itself are not query parameters."""
    handler = request.route_handler
    skip = _RESERVED | set(request.path_params) | set(handler.resolve_dependencies())
    found: dict[str, FieldDefinition] = {}
    for name, field in handler.parsed_fn_signature.parameters.items():
        kwarg = field.kwarg_definition
        if name in skip or (isinstance(kwarg, ParameterKwarg) and (kwarg.header or kwarg.cookie)):
            continue
        alias = (kwarg.query or kwarg.name) if isinstance(kwarg, ParameterKwarg) else None
        found[alias or name] = field
    return found


def is_docs(request: Request[Any, Any, Any]) -> bool:
    """A request for the OpenAPI documents and UIs (under the docs path), which Litestar serves itself."""
    config = request.app.openapi_config
    return bool(config is not None and config.path
                and (request.url.path + "/").startswith(config.path.rstrip("/") + "/"))


def refuse_unknown_query(request: Request[Any, Any, Any], declared: dict[str, FieldDefinition]) -> None:
    """A query parameter the route does not take is a 400 naming it: a misspelt filter must not quietly list
    everything."""
    unknown = [name for name in request.query_params if name not in declared]
    if unknown:
        names = ", ".join(f"`{shown(n)}`" for n in unknown)
        takes = ", ".join(f"`{n}`" for n in sorted(declared)) or "none"
        raise problem(400, "unknown-parameter", "Unknown query parameter",
                      f"Unknown query parameter(s) {names}; this operation takes: {takes}", field=shown(unknown[0]))


def is_integer(field: FieldDefinition) -> bool:
    """``int`` or ``int | None`` (an optional integer is still given in digits when it is given); not ``bool``,
    which Python counts as an ``int`` but a query gives as ``true`` or ``false``."""
    if field.is_optional:
        return all(inner.is_subclass_of(int) and not inner.is_subclass_of(bool)
                   for inner in field.inner_types if not inner.is_none_type)
    return field.is_subclass_of(int) and not field.is_subclass_of(bool)


def screen_query(request: Request[Any, Any, Any]) -> None:
    """Path and query parameters: nothing unstorable in any; a parameter the route takes given once (no route
    takes lists, so a second value is as ambiguous as a duplicate JSON field)."""
    for name, value in request.path_params.items():
        if isinstance(value, str):
            refuse_unstorable(name, value, "Path parameter")
    for name, values in request.query_params.dict().items():
        for value in (name, *values):
            refuse_unstorable(name, value, "Query parameter")
    if is_docs(request):
        return
    declared = query_parameters(request)
    refuse_unknown_query(request, declared)
    for name, values in request.query_params.dict().items():
        if len(values) > 1:
            raise problem(400, "duplicate-field", "Duplicate field",
                          f"Query parameter `{name}` is given {len(values)} times; give it once", field=name)
        if is_integer(declared[name]):
            if not _INTEGER.fullmatch(values[0]):  # not 1e2, 100.0, " 1"
                raise problem(400, "invalid-field", "Invalid request field",
                              f"Query parameter `{name}` must be an integer in decimal digits", field=name)
            refuse_out_of_range(name, int(values[0]), declared[name].kwarg_definition)


def refuse_out_of_range(name: str, value: int, kwarg: Any) -> None:
    """The route's own bounds, checked here to name the parameter as sent (Litestar names ``from`` by the
    handler's ``first``)."""
    if not isinstance(kwarg, ParameterKwarg):
        return
    for bound, holds, words in ((kwarg.ge, operator.ge, ">="), (kwarg.gt, operator.gt, ">"),
                                (kwarg.le, operator.le, "<="), (kwarg.lt, operator.lt, "<")):
        if bound is not None and not holds(value, bound):
            raise problem(400, "invalid-field", "Invalid request field",
                          f"Query parameter `{name}` must be {words} {bound}", field=name)


async def screen_request(request: Request[Any, Any, Any]) -> None:
    """``before_request`` (app level). A layer that sets its own ``before_request`` replaces this one, so it
    must call it."""
    screen_query(request)
    if request.method not in JSON_METHODS:
        return
    kind = body_type(request)
    body = await request.body()
    if not body and kind is None:  # e.g. POST /clients/{id}/revoke: nothing to screen
        return
    if not is_json_media(request.headers.get("content-type", "")):
        raise problem(415, "unsupported-media-type", "Unsupported media type",
                      f"{request.method} {request.url.path} takes a JSON body (Content-Type: application/json)")
    value = parse(body)
    request.state[_PARSED_STATE] = value
    if kind is not None and (errors := schema_errors(kind, value)):
        raise invalid_fields(errors)


def parsed_body(request: Request[Any, Any, Any]) -> Any:
    """The body as :func:`screen_request` parsed it (plain JSON values)."""
    return request.state[_PARSED_STATE]


def exact_integers(value: Any) -> Any:
    """JSON has one number type: ``270.0`` is the integer 270 (JSON Schema agrees). ``270.5`` stays a float."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: exact_integers(member) for key, member in value.items()}
    if isinstance(value, list):
        return [exact_integers(item) for item in value]
    return value
