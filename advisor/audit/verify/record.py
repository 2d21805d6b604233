"""Every check one record can fail on its own (hash, signature, columns, origin, key window)."""

from __future__ import annotations

import binascii
import hashlib
import json
from collections.abc import Iterable
from typing import Any

import msgspec
from cryptography.exceptions import InvalidSignature

from advisor.audit.canonical import decode_canonical
from advisor.audit.fields import decode_fields
from advisor.audit.jws import ACCEPTED_ALGS, RECORD_TYPE
from advisor.audit.keys import b64url_decode_strict
from advisor.audit.verify.keys import PublicKey, parse_time
from advisor.audit.verify.model import Failure, StoredRecord

_headers: dict[str, tuple[dict[str, Any] | None]] = {}  # one header per key: parse each once


def jws_header(header_b64: str) -> dict[str, Any] | None:
    cached = _headers.get(header_b64)  # one lookup: the route's threads share the cache
    if cached is not None:
        return cached[0]
    raw = b64url_decode_strict(header_b64)
    try:
        parsed = json.loads(raw) if raw is not None else None
    except ValueError:
        parsed = None
    header = parsed if isinstance(parsed, dict) else None
    if len(_headers) > 64:
        _headers.clear()
    _headers[header_b64] = (header,)
    return header


def _signed(document: Any, *path: str) -> Any:
    for name in path:
        if not isinstance(document, dict):
            return None
        document = document.get(name)
    return document


# Columns that are queryable copies of signed fields, and where each lives in the payload.
COLUMN_PATHS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("id", ("id",)), ("prev_hash", ("prev_hash",)), ("created_at", ("created_at",)),
    ("requester", ("requester",)), ("key_id", ("key_id",)),
    ("organization", ("recommendation", "profile", "organization", "name")),
    ("decision", ("recommendation", "decision")), ("strength", ("recommendation", "strength")),
    ("rules_digest", ("recommendation", "versions", "rules_digest")),
    ("catalog_id", ("recommendation", "versions", "catalog_id")),
)
# A review record (``"kind": "review"``) keeps its verdict in ``decision``; its other columns must be empty
# (the paths below name nothing a review signs, so any stored value disagrees).
REVIEW_COLUMN_PATHS: tuple[tuple[str, tuple[str, ...]], ...] = (
    *COLUMN_PATHS[:5], ("decision", ("review", "verdict")), ("organization", ("review", "organization")),
    ("strength", ("review", "strength")), ("rules_digest", ("review", "rules_digest")),
    ("catalog_id", ("review", "catalog_id")),
)


def _kind_and_subject(document: dict[str, Any]) -> tuple[str, Any]:
    """The ``kind`` and ``subject`` columns a signed payload implies: a review names the assessment it judges,
    a reassessment the assessment it supersedes."""
    if document.get("kind") == "review":
        return "review", _signed(document, "review", "assessment_id")
    return "assessment", _signed(document, "recommendation", "supersedes")


def b64url_bytes(data: bytes) -> bytes:
    """``keys.b64url(data)`` as ASCII bytes, about twice as fast on a 14 KB payload: no ``str`` round
    trip, and ``replace`` (which returns at once when a character is absent) instead of ``translate``."""
    return binascii.b2a_base64(data, newline=False).replace(b"+", b"-").replace(b"/", b"_").rstrip(b"=")


def check_record(record: StoredRecord, keys: dict[str, PublicKey], log_name: str | None = None) -> list[Failure]:
    """Every check one record can fail on its own; empty when it is sound.

    The failures come in order of precedence, so the first one names the kind: a malformed JWS,
    an algorithm never accepted, an unknown key, a payload that is not canonical, a record at
    the wrong position, a bad signature, stored copies that disagree with the signed bytes,
    a validly signed record that is not of this log, and last a key used outside its window.

    A record without a JWS (revision 0008 on) is signed by its commit's checkpoint, which the walk
    checks (``check_run``): here it gets every other check, and the key its payload names must be known.
    """
    if not isinstance(record.payload, str) or not isinstance(record.jws, str | None):
        return [Failure("canonical", "edited", "the stored payload or JWS is not text")]
    if record.jws is None:
        return _unsigned_record(record, keys, log_name)
    failures: list[Failure] = []
    raw = record.payload.encode("utf-8")
    payload_b64 = b64url_bytes(raw)
    parts = record.jws.split(".")
    header: dict[str, Any] | None = None
    signature: bytes | None = None
    if len(parts) == 3:
        header = jws_header(parts[0])
        signature = b64url_decode_strict(parts[2])
    if header is None or signature is None or len(signature) != 64:
        failures.append(Failure("signature", "edited", "the JWS is malformed"))
        header = None
    elif parts[1] and parts[1] != payload_b64.decode("ascii"):
        failures.append(Failure("signature", "edited", "the JWS carries a different payload from the stored one"))
    key: PublicKey | None = None
    if header is not None:
        alg, kid = header.get("alg"), header.get("kid")
        if alg not in ACCEPTED_ALGS:
            failures.append(Failure("signature", "forged", f"JWS algorithm {alg!r} is never accepted"))
            header = None
        else:
            key = keys.get(kid) if isinstance(kid, str) else None
            if key is None:
                failures.append(Failure("key_known", "unknown_key", f"signed by key {kid!r}, which the JWKS does "
                                                                    "not list"))
    document = _document(raw, failures)
    _position(record, document, failures)
    if key is not None and signature is not None:
        try:
            key.key.verify(signature, parts[0].encode("ascii") + b"." + payload_b64)
        except InvalidSignature:
            failures.append(Failure("signature", "edited", "the signature does not verify: signed bytes changed"))
    _signed_copies(record, raw, document, failures)
    if document is not None:
        if header is not None:
            failures.extend(_origin(header, document, log_name))
        if key is not None:
            failures.extend(_window(key, _signed(document, "created_at")))
    return failures


def _unsigned_record(record: StoredRecord, keys: dict[str, PublicKey], log_name: str | None) -> list[Failure]:
    """A record signed by its commit's checkpoint: the same checks as a signed one's but the signature's, and
    its ``key_id`` must name a known key (the walk checks that its checkpoint is signed by that key).

    The payload is not decoded whole and re-encoded to prove it canonical, only its signed fields that the
    columns copy are (a typed partial decode: msgspec skips the rest). Nothing is lost: the record is sound
    only once a verified checkpoint's root covers its leaf (``check_run``, ``stitch``; ``unsigned`` else),
    and that root commits to these exact bytes, which the writer made canonical (``record.splice_payload``)
    before the commit was signed; bytes changed since fail their hash, their link or that root. What is left
    to check is what the signature does not say: that the columns, the position, the log and the key's
    window agree with the signed bytes. A payload the partial decode cannot read gets the full check.
    """
    raw = record.payload.encode("utf-8")
    try:
        signed = decode_fields(raw)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return _unsigned_record_in_full(record, raw, keys, log_name)
    failures: list[Failure] = []
    key = keys.get(signed.key_id) if isinstance(signed.key_id, str) else None
    if key is None:
        failures.append(Failure("key_known", "unknown_key", f"names key {signed.key_id!r}, which the JWKS does not "
                                                            "list"))
    if signed.seq != record.seq:
        failures.append(Failure("position", "reordered",
                                f"the record at position {record.seq} is signed as record {signed.seq!r}"))
    if hashlib.sha256(raw).hexdigest() != record.hash:
        failures.append(Failure("hash", "edited", "the payload does not hash to the stored hash"))
    _columns(record, signed.columns(), (signed.record_kind(), signed.subject()), failures)
    if log_name is not None and signed.log != log_name:
        failures.append(Failure("origin", "forged", f"a record of log {signed.log!r}, not {log_name!r}"))
    if key is not None:
        failures.extend(_window(key, signed.created_at))
    return failures


def _unsigned_record_in_full(record: StoredRecord, raw: bytes, keys: dict[str, PublicKey],
                             log_name: str | None) -> list[Failure]:
    """``_unsigned_record`` over the whole decoded document: for bytes the partial decode cannot read."""
    failures: list[Failure] = []
    document = _document(raw, failures)
    key: PublicKey | None = None
    if document is not None:
        kid = document.get("key_id")
        key = keys.get(kid) if isinstance(kid, str) else None
        if key is None:
            failures.insert(0, Failure("key_known", "unknown_key", f"names key {kid!r}, which the JWKS does not "
                                                                   "list"))
    _position(record, document, failures)
    _signed_copies(record, raw, document, failures)
    if document is not None:
        if log_name is not None and document.get("log") != log_name:
            failures.append(Failure("origin", "forged", f"a record of log {document.get('log')!r}, not {log_name!r}"))
        if key is not None:
            failures.extend(_window(key, _signed(document, "created_at")))
    return failures


def _document(raw: bytes, failures: list[Failure]) -> dict[str, Any] | None:
    """The signed document, if the bytes are canonical JSON of an object (else a failure says why)."""
    try:
        document, canonical = decode_canonical(raw)
    except (msgspec.DecodeError, ValueError):
        failures.append(Failure("canonical", "edited", "the payload is not JSON"))
        return None
    if not isinstance(document, dict):
        failures.append(Failure("canonical", "edited", "the payload is not a JSON object"))
        return None
    if canonical != raw:
        failures.append(Failure("canonical", "edited", "the payload is not canonical JSON (RFC 8785)"))
    return document


def _position(record: StoredRecord, document: dict[str, Any] | None, failures: list[Failure]) -> None:
    signed_seq = _signed(document, "seq")
    if document is not None and signed_seq != record.seq:
        failures.append(Failure("position", "reordered",
                                f"the record at position {record.seq} is signed as record {signed_seq!r}"))


def _signed_copies(record: StoredRecord, raw: bytes, document: dict[str, Any] | None,
                   failures: list[Failure]) -> None:
    """The stored hash and columns against the signed bytes."""
    if hashlib.sha256(raw).hexdigest() != record.hash:
        failures.append(Failure("hash", "edited", "the payload does not hash to the stored hash"))
    if document is None:
        return
    paths = REVIEW_COLUMN_PATHS if document.get("kind") == "review" else COLUMN_PATHS
    _columns(record, [(column, _signed(document, *path)) for column, path in paths], _kind_and_subject(document),
             failures)


def _columns(record: StoredRecord, signed: Iterable[tuple[str, Any]], kind_and_subject: tuple[str, Any],
             failures: list[Failure]) -> None:
    """The stored copies against the values signed: each column stored, and (a database row; an export line
    carries no columns) the record's kind and subject."""
    for column, value in signed:
        stored = getattr(record, column)
        if stored is not None and value != stored:
            failures.append(Failure("columns", "edited", f"column {column} is {stored!r}, the signed payload "
                                                         f"says {value!r}"))
    if record.kind is not None:
        for column, value in zip(("kind", "subject"), kind_and_subject, strict=True):
            if getattr(record, column) != value:
                failures.append(Failure("columns", "edited", f"column {column} is {getattr(record, column)!r}, "
                                                             f"the signed payload says {value!r}"))


def _origin(header: dict[str, Any], document: dict[str, Any], log_name: str | None) -> list[Failure]:
    found: list[Failure] = []
    if header.get("typ") != RECORD_TYPE:
        found.append(Failure("origin", "forged", f"JWS type {header.get('typ')!r} is not {RECORD_TYPE}"))
    if header.get("kid") != document.get("key_id"):
        found.append(Failure("origin", "forged", f"signed by {header.get('kid')}, but the payload names key "
                                                 f"{document.get('key_id')!r}"))
    if log_name is not None and document.get("log") != log_name:
        found.append(Failure("origin", "forged", f"a record of log {document.get('log')!r}, not {log_name!r}"))
    return found


def _window(key: PublicKey, created_at: Any) -> list[Failure]:
    try:
        when = parse_time(created_at) if isinstance(created_at, str) else None
    except ValueError:
        when = None
    if when is None:
        return [Failure("key_window", "forged", f"created_at {created_at!r} is not an RFC 3339 time")]
    if not key.covers(when):
        return [Failure("key_window", "retired_key", f"created {created_at}, outside key {key.kid}'s validity "
                                                     f"window {key.window()}")]
    return []
