"""Screens every request before its handler runs (an app-level ``before_request`` hook): JSON bodies, query.

RFC 8259 leaves duplicate member names to the parser, and parsers disagree (msgspec keeps the last,
others the first): a body with one is ambiguous, so it is refused with the path of the duplicate.
The screen also refuses what is not JSON at all, whatever the route: invalid UTF-8 (with the byte
offset), ``NaN``/``Infinity``, integers past 4300 digits and nesting deeper than the parser allows.
Typed decoding (lone surrogates, ranges, lengths, unknown fields) happens in the handlers.

Cost: one pass of the C JSON scanner over a body of at most ``ADVISOR_MAX_BODY_BYTES``; a second,
path-tracking pass runs only when a duplicate was found.
"""

from __future__ import annotations

import json
from typing import Any

from litestar import Request

from advisor.api.problems import problem

JSON_METHODS = frozenset({"POST", "PUT", "PATCH"})


class _Duplicates:
    found = False


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


class _Pairs(list[tuple[str, Any]]):
    """An object as its member list, duplicates kept (the path-tracking pass)."""


def _first_duplicate(value: Any, path: str) -> str | None:
    if isinstance(value, _Pairs):
        seen: set[str] = set()
        for key, member in value:
            where = f"{path}.{key}" if path else key
            if key in seen:
                return where
            seen.add(key)
            found = _first_duplicate(member, where)
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = _first_duplicate(item, f"{path}[{index}]")
            if found is not None:
                return found
    return None


def is_json_media(content_type: str) -> bool:
    media = content_type.split(";")[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


def screen(body: bytes) -> None:
    """Raise a 400 problem when ``body`` is not unambiguous JSON."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise problem(400, "malformed-json", "Malformed JSON",
                      f"The body is not valid UTF-8: {exc.reason} at byte {exc.start}") from None
    flag = _Duplicates()

    def pairs_hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        members = dict(pairs)
        if len(members) != len(pairs):
            flag.found = True
        return members

    try:
        json.loads(text, object_pairs_hook=pairs_hook, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise problem(400, "malformed-json", "Malformed JSON",
                      f"JSON is malformed: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
    except ValueError as exc:  # NaN/Infinity, or an integer too long to convert
        raise problem(400, "malformed-json", "Malformed JSON", f"JSON is malformed: {exc}") from None
    except RecursionError:
        raise problem(400, "malformed-json", "Malformed JSON", "JSON is nested too deeply") from None
    if flag.found:
        path = _first_duplicate(json.loads(text, object_pairs_hook=_Pairs), "") or "$"
        raise problem(400, "duplicate-field", "Duplicate field",
                      f"Field `{path}` appears more than once in its object", field=path)


def screen_query(request: Request[Any, Any, Any]) -> None:
    """A parameter the route takes, given twice, is as ambiguous as a duplicate JSON field (no route takes
    lists); parameters the route does not take are ignored, as ever."""
    declared = request.route_handler.parsed_fn_signature.parameters
    for name, values in request.query_params.dict().items():
        if len(values) > 1 and name in declared:
            raise problem(400, "duplicate-field", "Duplicate field",
                          f"Query parameter `{name}` is given {len(values)} times; give it once", field=name)


async def screen_request(request: Request[Any, Any, Any]) -> None:
    """``before_request`` (app level): screen the query, and JSON bodies of POST, PUT and PATCH.

    Other media types are the handler's to refuse (415). A layer that sets its own ``before_request``
    replaces this one, so it must call it.
    """
    screen_query(request)
    if request.method in JSON_METHODS and is_json_media(request.headers.get("content-type", "")):
        screen(await request.body())


def exact_integers(value: Any) -> Any:
    """JSON has one number type: ``270.0`` is the integer 270 (JSON Schema agrees). ``270.5`` stays a float."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: exact_integers(member) for key, member in value.items()}
    if isinstance(value, list):
        return [exact_integers(item) for item in value]
    return value
