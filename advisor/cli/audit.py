"""The audit subcommands of ``advisor``: verify, export, checkpoint, keys rotate.

An auditor's loop: ``advisor checkpoint`` now and then (kept outside the database), ``advisor export``
when asked, and ``advisor verify --checkpoint`` against the database or the exported files.
Exit codes: 0 all is well, 1 the log has a problem (the first one is printed), 2 unusable input.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import IO, Any

import msgspec

from advisor.settings import Settings
from advisor.store.database import DATABASE_ERRORS, describe_database_error


def default_jwks_path(export: Path) -> Path:
    """``audit.jsonl`` -> ``audit.jwks.json``: the keys travel beside the records they verify."""
    return export.with_suffix(".jwks.json")


class ProgressBar:
    """A one-line text bar on stderr, redrawn at most four times a second."""

    def __init__(self, total: int | None, stream: IO[str] | None = None, label: str = "verify") -> None:
        self.total, self.label, self.stream = total, label, stream or sys.stderr
        self.done = 0
        self.started = self.drawn = time.monotonic()

    def __call__(self, count: int) -> None:
        self.done += count
        now = time.monotonic()
        if now - self.drawn >= 0.25:
            self.drawn = now
            self.draw(now)

    def draw(self, now: float, end: str = "") -> None:
        rate = self.done / max(now - self.started, 1e-9)
        if self.total:
            share = min(self.done / self.total, 1.0)
            filled = int(share * 30)
            bar = f"[{'#' * filled}{'.' * (30 - filled)}] {share:4.0%} {self.done:,}/{self.total:,}"
        else:
            bar = f"{self.done:,}"
        self.stream.write(f"\r{self.label} {bar} records, {rate:,.0f}/s{end}")
        self.stream.flush()

    def close(self) -> None:
        self.draw(time.monotonic(), end="\n")


def _read_json(path: Path) -> Any:
    return json.loads(path.read_bytes())


def read_checkpoint(path: Path) -> str:
    """A checkpoint file's signed note: the JSON ``advisor checkpoint`` writes (this or the chain-only
    format), or a bare C2SP signed note."""
    data = path.read_bytes()
    if data.lstrip().startswith(b"{"):
        note = json.loads(data).get("note")
        if not isinstance(note, str):
            raise ValueError(f"{path} has no signed note")
        return note
    return data.decode("utf-8")


def cmd_consistency(args: argparse.Namespace, settings: Settings) -> int:
    """Two checkpoints: prove from an RFC 9162 consistency proof alone that the newer log extends the older."""
    import base64

    from advisor.audit.checkpoint import CheckpointError, is_chain_format, verify_note
    from advisor.audit.merkle import ProofError, verify_consistency
    from advisor.audit.verify import load_keys

    try:
        notes = [read_checkpoint(Path(name)) for name in args.checkpoint]
        if args.jwks:
            jwks_doc = _read_json(Path(args.jwks))
        elif args.vkey:
            jwks_doc = jwks_of_verifier_key(args.vkey)
        else:
            from advisor.store.database import Database
            from advisor.store.keyring import jwks

            db = Database.open(settings, pool_size=1)
            try:
                with db.connect() as conn:
                    jwks_doc = jwks(conn)
            finally:
                db.dispose()
        keys = load_keys(jwks_doc)
        if any(is_chain_format(note) for note in notes):
            raise CheckpointError("a chain-format checkpoint (from before the Merkle tree) has no Merkle root: "
                                  "verify the log against it with one --checkpoint")
        heads = sorted((verify_note(note, keys) for note in notes), key=lambda head: head[1])
        (old_origin, old, old_root, _), (new_origin, new, new_root, _) = heads
        if old_origin != new_origin:
            raise CheckpointError(f"the checkpoints are of two logs: {old_origin!r} and {new_origin!r}")
        if args.proof:
            document = _read_json(Path(args.proof))
            if (document.get("from"), document.get("to")) != (old, new):
                raise ValueError(f"the proof is from {document.get('from')} to {document.get('to')}, not from "
                                 f"{old} to {new}")
            path = [base64.b64decode(h, validate=True) for h in document["consistency_path"]]
            source = str(args.proof)
        else:
            from advisor.store.database import Database
            from advisor.store.tree import prove_consistency

            db = Database.open(settings, pool_size=1)
            try:
                with db.connect() as conn:
                    path = prove_consistency(conn, old, new) if old else []
            finally:
                db.dispose()
            source = "the database"
    except Exception as exc:
        return _cannot_verify(exc, (KeyError, TypeError))
    if old == new and old_root != new_root:
        print(f"problem: fork: two signed checkpoints of {old_origin} at size {old} with different roots "
              f"{old_root.hex()} and {new_root.hex()}")
        return 1
    try:
        verify_consistency(old, new, old_root, new_root, path)
    except ProofError as exc:
        print(f"problem: the log at size {new} does not extend the log at size {old}: {exc}")
        return 1
    print(f"ok: the log of size {new} (root {new_root.hex()}) extends the log of size {old} (root {old_root.hex()});"
          f" consistency proof of {len(path)} hashes from {source}, no record read")
    return 0


def jwks_of_verifier_key(text: str) -> dict[str, Any]:
    """A one-key JWKS (no validity window) from a signed-note verifier key, given as text or as a file."""
    from advisor.audit.checkpoint import parse_verifier_key
    from advisor.audit.keys import public_jwk, thumbprint

    path = Path(text)
    _, public_key = parse_verifier_key(path.read_text() if path.is_file() else text)
    jwk: dict[str, Any] = public_jwk(public_key)
    return {"keys": [{**jwk, "kid": thumbprint(jwk), "alg": "EdDSA", "use": "sig"}]}


def trusted_keys(args: argparse.Namespace, export: Path) -> tuple[Any, str]:
    """The JWKS to verify an export with, and what it is, for the output: the caller's own, or (only when
    asked) the one beside the export, which whoever re-signed the export could have replaced too."""
    if args.jwks:
        return _read_json(Path(args.jwks)), f"{args.jwks} (given with --jwks)"
    if args.vkey:
        return jwks_of_verifier_key(args.vkey), "the note verifier key given with --vkey"
    bundled = default_jwks_path(export)
    if not args.trust_bundled_keys:
        raise ValueError("--file needs the keys to trust: --jwks with a JWKS from a trusted source (the "
                         "service's /.well-known/jwks.json), --vkey with the published note verifier key, or "
                         f"--trust-bundled-keys to use {bundled}")
    return _read_json(bundled), (f"{bundled}, found beside the export (--trust-bundled-keys): a re-signed "
                                 "export with its own keys would pass too")


def _cannot_verify(exc: Exception, also_input: tuple[type[Exception], ...] = ()) -> int:
    """Say why verification could not start (input, database, or anything else) and return exit code 2."""
    from advisor.audit.checkpoint import CheckpointError
    from advisor.audit.verify import JwksError

    unusable = (OSError, ValueError, JwksError, CheckpointError, msgspec.DecodeError, msgspec.ValidationError)
    if isinstance(exc, (*unusable, *also_input)):
        why = str(exc)
    elif isinstance(exc, DATABASE_ERRORS):  # a database that cannot be reached or read (corrupt, no schema)
        why = f"the database cannot be read: {describe_database_error(exc)}"
    else:
        why = f"{type(exc).__name__}: {exc}"
    print(f"cannot verify: {why}", file=sys.stderr)
    return 2


def cmd_verify(args: argparse.Namespace, settings: Settings) -> int:
    if args.checkpoint and len(args.checkpoint) == 2:
        return cmd_consistency(args, settings)
    if args.checkpoint and len(args.checkpoint) > 2:
        print("cannot verify: give one checkpoint (to verify the log against it) or two (to prove the newer "
              "extends the older)", file=sys.stderr)
        return 2
    from advisor.audit.checkpoint import anchor_of_note, verify_note
    from advisor.audit.verify import Anchor, export_records, load_keys, verify_records
    from advisor.store.database import Database
    from advisor.store.verification import verify_database

    db: Database | None = None
    trusted = ""
    try:
        anchors: list[Anchor] = []
        total: int | None = None
        log_name: str | None = None
        if args.file:
            export = Path(args.file)
            if not export.is_file():
                raise OSError(f"no export file {export}")
            jwks_doc, trusted = trusted_keys(args, export)
        else:
            from advisor.store.keyring import jwks
            from advisor.store.repository import Repository

            db = Database.open(settings, pool_size=2)
            with db.connect() as conn:
                jwks_doc = _read_json(Path(args.jwks)) if args.jwks else jwks(conn)
            total, log_name = Repository(db.engine).head()[0], settings.log_name
        keys = load_keys(jwks_doc)
        if args.checkpoint:
            note = read_checkpoint(Path(args.checkpoint[0]))
            anchors.append(anchor_of_note(note, keys, log_name))
            total = max(total or 0, anchors[-1].size) or None
            log_name = verify_note(note, keys, log_name)[0]
    except Exception as exc:
        return _cannot_verify(exc)
    bar = ProgressBar(total)
    progress = None if args.quiet else bar
    try:
        if db is not None:
            try:
                result = verify_database(db.engine, settings.log_name, jwks=jwks_doc, anchors=anchors,
                                         workers=args.workers, progress=progress)
            except DATABASE_ERRORS as exc:  # corrupt or unreadable mid-way: unusable input, not a problem found
                print(f"\ncannot verify: the database cannot be read: {describe_database_error(exc)}", file=sys.stderr)
                return 2
        else:
            result = verify_records(export_records(Path(args.file)), jwks_doc, log_name=log_name, anchors=anchors,
                                    workers=args.workers, progress=progress,
                                    reread=lambda: export_records(Path(args.file)))
    finally:
        if progress is not None:
            bar.close()
        if db is not None:
            db.dispose()
    if result.problem is None:
        keys_note = f"; keys: {trusted}" if args.file else ""
        print(f"ok: {result.records} records verified; head seq {result.last_seq} hash {result.last_hash}{keys_note}")
        return 0
    problem = result.problem
    print(f"problem: seq={problem.seq} kind={problem.kind}: {problem.detail}")
    return 1


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    from advisor.audit.jws import attach
    from advisor.audit.verify import CheckpointLine, ExportLine, StoredHead
    from advisor.store.database import Database
    from advisor.store.keyring import jwks
    from advisor.store.repository import Repository
    from advisor.store.verification import database_log

    output = Path(args.file)
    jwks_path = Path(args.jwks) if args.jwks else default_jwks_path(output)
    db = Database.open(settings, pool_size=2)
    encoder = msgspec.json.Encoder()
    try:
        size, head_hash = Repository(db.engine).head()  # a consistent end: later appends are not exported
        with db.connect() as conn:
            keys = jwks(conn)
        output.parent.mkdir(parents=True, exist_ok=True)
        scratch = output.with_name(f".{output.name}.partial")
        count = heads = 0
        with scratch.open("wb") as handle:
            # Each commit's signed checkpoint follows its last record: records signed per commit need it.
            for item in database_log(db.engine, up_to=size):
                if isinstance(item, StoredHead):
                    handle.write(encoder.encode(CheckpointLine(size=item.size, checkpoint=item.note)) + b"\n")
                    heads += 1
                    continue
                jws = item.jws
                if jws is not None and (parts := jws.split(".")) and len(parts) == 3 and not parts[1]:
                    jws = attach(jws, item.payload.encode("utf-8"))  # a detached JWS travels attached
                handle.write(encoder.encode(ExportLine(seq=item.seq, id=item.id, hash=item.hash,
                                                       prev_hash=item.prev_hash, payload=item.payload,
                                                       jws=jws)) + b"\n")
                count += 1
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(scratch, output)
        jwks_path.write_text(json.dumps(keys, indent=2, sort_keys=True) + "\n")
    finally:
        db.dispose()
    print(f"exported {count} records and {heads} signed checkpoints (head seq {size}, hash {head_hash}) to {output}; "
          f"keys in {jwks_path}",
          file=sys.stderr)
    return 0


def cmd_checkpoint(args: argparse.Namespace, settings: Settings) -> int:
    from advisor.audit.checkpoint import verifier_key
    from advisor.audit.keys import public_key_from_jwk
    from advisor.store.database import Database
    from advisor.store.keyring import KeyRing, jwks
    from advisor.store.tree import current_checkpoint

    db = Database.open(settings, pool_size=1)
    try:
        checkpoint = current_checkpoint(db, KeyRing(settings.keys_dir, settings.signing_key_file),
                                        settings.log_name)
        with db.connect() as conn:
            signer = next(k for k in jwks(conn)["keys"] if k["kid"] == checkpoint.key_id)
    finally:
        db.dispose()
    output = Path(args.file)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_bytes(msgspec.json.format(msgspec.json.encode(checkpoint), indent=2) + b"\n")
    print(f"checkpoint of {checkpoint.origin} at size {checkpoint.size} written to {output}; keep it outside "
          "the database", file=sys.stderr)
    sys.stderr.write(checkpoint.note)
    print(f"note verifier key: {verifier_key(checkpoint.origin, public_key_from_jwk(signer))}", file=sys.stderr)
    return 0


def cmd_keys_rotate(_args: argparse.Namespace, settings: Settings) -> int:
    from advisor.store.database import Database
    from advisor.store.keyring import KeyRing

    db = Database.open(settings, pool_size=1)
    keyring = KeyRing(settings.keys_dir, settings.signing_key_file)
    try:
        # Under the chain lock, like every append: no record is signed by a key retired before it.
        with db.locked() as conn:
            retired = KeyRing.active_kid(conn)
            key = keyring.rotate(conn)
    finally:
        db.dispose()
    print(f"new signing key {key.kid} ({settings.keys_dir / (key.kid + '.pem')}); retired {retired or 'none'}. "
          "Every process that appends needs the new key file in its keys directory.", file=sys.stderr)
    return 0


def add_audit_commands(sub: Any) -> None:
    """Register verify, export, checkpoint and keys on the ``advisor`` parser's subcommands."""
    verify = sub.add_parser("verify", help="verify the signed log (database, or an exported file)")
    verify.add_argument("--checkpoint", metavar="FILE", action="append", help="a checkpoint (`advisor "
                        "checkpoint`, or a bare signed note): the log must still have at least its size, with its "
                        "Merkle root at that size. Twice (OLD, NEW): prove with a consistency proof alone that NEW "
                        "extends OLD, reading no record")
    verify.add_argument("--proof", metavar="FILE", help="with two checkpoints: the consistency proof (the body of "
                        "GET /audit/consistency) instead of one read from the database")
    verify.add_argument("--file", metavar="EXPORT", help="verify an `advisor export` file instead of the database")
    verify.add_argument("--jwks", metavar="JWKS", help="the public keys to trust (default: the database's; "
                        "required with --file unless --trust-bundled-keys)")
    verify.add_argument("--vkey", metavar="VKEY", help="with --file: the published signed-note verifier key "
                        "(`advisor checkpoint` prints it), as text or a file, instead of --jwks")
    verify.add_argument("--trust-bundled-keys", action="store_true", help="with --file and no --jwks: trust the "
                        "JWKS beside the export (EXPORT with suffix .jwks.json); the output says so")
    verify.add_argument("--workers", type=int, default=None, help="processes checking records, this one included "
                        "(default: one per CPU)")
    verify.add_argument("--quiet", action="store_true", help="no progress bar")
    verify.set_defaults(func=cmd_verify)
    export = sub.add_parser("export", help="write the signed log as JSON Lines, with its JWKS")
    export.add_argument("file", help="output JSON Lines file (e.g. audit.jsonl)")
    export.add_argument("--jwks", metavar="JWKS", help="where to write the public keys (default: FILE with "
                        "suffix .jwks.json)")
    export.set_defaults(func=cmd_export)
    checkpoint = sub.add_parser("checkpoint", help="write a signed checkpoint (log size and head hash)")
    checkpoint.add_argument("file", help="output file; keep it outside the database")
    checkpoint.set_defaults(func=cmd_checkpoint)
    keys = sub.add_parser("keys", help="signing keys")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    rotate = keys_sub.add_parser("rotate", help="retire the active signing key and activate a new one")
    rotate.set_defaults(func=cmd_keys_rotate)
