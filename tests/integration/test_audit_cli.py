"""``advisor verify | export | checkpoint | keys rotate`` as an operator or auditor runs them, in subprocesses."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest
from litestar import Litestar
from sqlalchemy import select

from advisor.audit.checkpoint import parse_verifier_key
from advisor.services import Services
from advisor.settings import PROJECT_ROOT, Settings
from advisor.store.database import make_engine
from advisor.store.keyring import jwks
from advisor.store.tables import records
from advisor.store.verification import verify_database
from tests.integration.cluster import Load, bodies, running, server_env
from tests.signed_log import append_records, bump, rebuild_tree, rewrite_payload, tampering

SQLITE = pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
COUNT = 30


def advisor(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ADVISOR_")}
    env.update(ADVISOR_DATABASE_URL=settings.database_url, ADVISOR_KEYS_DIR=str(settings.keys_dir))
    return subprocess.run([sys.executable, "-m", "advisor", *args], capture_output=True, text=True, env=env,
                          check=False, timeout=180)


@pytest.fixture
def services(app: Litestar) -> Services:
    services: Services = app.state.services
    append_records(services, COUNT)
    return services


@SQLITE
def test_verify_passes_with_a_progress_bar(settings: Settings, services: Services) -> None:
    result = advisor(settings, "verify")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith(f"ok: {COUNT} records verified")
    assert f"100% {COUNT}/{COUNT} records" in result.stderr


@SQLITE
def test_verify_prints_the_first_problem_and_exits_1(settings: Settings, services: Services) -> None:
    with tampering(settings) as conn:
        conn.execute("DELETE FROM records WHERE seq IN (9, 10)")
    result = advisor(settings, "verify", "--quiet")
    assert result.returncode == 1
    assert result.stdout.startswith("problem: seq=11 kind=deleted: record(s) 9..10 are missing")


@SQLITE
def test_export_and_checkpoint_verify_offline(settings: Settings, services: Services, tmp_path: Path) -> None:
    checkpoint, export = tmp_path / "checkpoint.json", tmp_path / "audit.jsonl"
    assert advisor(settings, "checkpoint", str(checkpoint)).returncode == 0
    done = advisor(settings, "export", str(export))
    assert done.returncode == 0, done.stderr
    jwks_file = tmp_path / "audit.jwks.json"
    lines = export.read_text().splitlines()
    entries = [json.loads(line) for line in lines]
    at = [i for i, entry in enumerate(entries) if "seq" in entry]  # the line of each record, by seq - 1
    assert len(at) == COUNT
    heads = [entry for entry in entries if "checkpoint" in entry]  # each commit's, after its last record
    assert [entry["size"] for entry in heads] == [*range(7, COUNT, 7), COUNT]
    assert all(entries[i - 1]["seq"] == entry["size"] for i, entry in enumerate(entries) if "checkpoint" in entry)
    first = entries[0]
    assert set(first) == {"seq", "id", "hash", "prev_hash", "payload", "jws"}
    with services.engine.connect() as conn:
        stored = conn.execute(select(records.c.payload).where(records.c.seq == 1)).scalar_one()
        assert json.loads(jwks_file.read_text()) == jwks(conn)
    assert first["payload"] == stored  # exactly the signed bytes

    # The keys beside the export are whatever whoever wrote the export put there: not trusted unless asked.
    unkeyed = advisor(settings, "verify", "--file", str(export), "--checkpoint", str(checkpoint))
    assert unkeyed.returncode == 2
    assert "--trust-bundled-keys" in unkeyed.stderr
    bundled = advisor(settings, "verify", "--file", str(export), "--checkpoint", str(checkpoint),
                      "--trust-bundled-keys")
    assert bundled.returncode == 0, bundled.stdout + bundled.stderr
    assert "found beside the export (--trust-bundled-keys)" in bundled.stdout
    clean = advisor(settings, "verify", "--file", str(export), "--checkpoint", str(checkpoint), "--jwks",
                    str(jwks_file))
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "(given with --jwks)" in clean.stdout
    vkey = advisor(settings, "checkpoint", str(tmp_path / "again.json")).stderr.rsplit("note verifier key: ", 1)[1]
    by_vkey = advisor(settings, "verify", "--file", str(export), "--checkpoint", str(checkpoint), "--vkey",
                      vkey.strip())
    assert by_vkey.returncode == 0, by_vkey.stdout + by_vkey.stderr
    assert "verifier key given with --vkey" in by_vkey.stdout
    # The auditor's copy, cut short after a commit: only the checkpoint knows it was longer.
    export.write_text("\n".join(lines[:at[20] + 2]) + "\n")  # records 1..21 and the checkpoint at 21
    assert advisor(settings, "verify", "--file", str(export), "--jwks", str(jwks_file)).returncode == 0
    cut = advisor(settings, "verify", "--file", str(export), "--checkpoint", str(checkpoint), "--jwks", str(jwks_file))
    assert cut.returncode == 1
    assert cut.stdout.startswith("problem: seq=22 kind=truncated")
    # One line edited.
    entry = json.loads(lines[at[6]])
    entry["payload"] = entry["payload"].replace('"strength":"', '"strength":"x', 1)
    export.write_text("\n".join([*lines[:at[6]], json.dumps(entry), *lines[at[6] + 1:]]) + "\n")
    edited = advisor(settings, "verify", "--file", str(export), "--jwks", str(jwks_file))
    assert edited.returncode == 1
    assert edited.stdout.startswith("problem: seq=7 kind=edited")
    # Without the commits' checkpoint lines, the records (signed per commit, no JWS of their own) are signed by none.
    export.write_text("\n".join(line for line, e in zip(lines, entries, strict=True) if "checkpoint" not in e) + "\n")
    stripped = advisor(settings, "verify", "--file", str(export), "--jwks", str(jwks_file))
    assert stripped.returncode == 1
    assert stripped.stdout.startswith("problem: seq=1 kind=unsigned"), stripped.stdout
    # Two lines swapped: out of order, not deleted (the "missing" record is further down the file).
    swap = lines.copy()
    swap[at[10]], swap[at[11]] = lines[at[11]], lines[at[10]]
    export.write_text("\n".join(swap) + "\n")
    swapped = advisor(settings, "verify", "--file", str(export), "--jwks", str(jwks_file))
    assert swapped.returncode == 1
    assert swapped.stdout.startswith("problem: seq=12 kind=reordered"), swapped.stdout


@SQLITE
def test_an_auditor_verifies_the_export_without_advisor_code(settings: Settings, services: Services,
                                                             tmp_path: Path) -> None:
    """examples/verify_export.py, as docs/audit.md hands it to an auditor: stdlib and joserfc only."""
    checkpoint, export = tmp_path / "checkpoint.json", tmp_path / "audit.jsonl"
    assert advisor(settings, "checkpoint", str(checkpoint)).returncode == 0
    assert advisor(settings, "export", str(export)).returncode == 0
    script = [sys.executable, str(PROJECT_ROOT / "examples" / "verify_export.py"), str(export),
              str(tmp_path / "audit.jwks.json"), str(checkpoint)]
    clean = subprocess.run(script, capture_output=True, text=True, check=False, timeout=120)
    assert clean.returncode == 0, clean.stderr
    assert clean.stdout.startswith(f"ok: {COUNT} records")
    lines = export.read_text().splitlines()
    last = next(i for i, line in enumerate(lines) if json.loads(line).get("size") == 14)
    export.write_text("\n".join(lines[:last + 1]) + "\n")  # records 1..14 and their commits' checkpoints
    cut = subprocess.run(script, capture_output=True, text=True, check=False, timeout=120)
    assert cut.returncode == 1
    assert "record 15: truncated" in cut.stderr
    export.write_text("\n".join(line for line in lines if "checkpoint" not in json.loads(line)) + "\n")
    stripped = subprocess.run(script, capture_output=True, text=True, check=False, timeout=120)
    assert stripped.returncode == 1
    assert "record 1: unsigned" in stripped.stderr


@SQLITE
def test_verify_refuses_unusable_input(settings: Settings, services: Services, tmp_path: Path) -> None:
    missing = advisor(settings, "verify", "--file", str(tmp_path / "nope.jsonl"), "--jwks", str(tmp_path / "k.json"))
    assert missing.returncode == 2
    (tmp_path / "bad.json").write_text('{"origin": "x"}')
    bad = advisor(settings, "verify", "--checkpoint", str(tmp_path / "bad.json"))
    assert bad.returncode == 2
    assert "cannot verify" in bad.stderr


@SQLITE
def test_rotation_keeps_every_record_verifiable(settings: Settings, services: Services, tmp_path: Path) -> None:
    before = advisor(settings, "checkpoint", str(tmp_path / "before.json"))
    assert before.returncode == 0
    rotated = advisor(settings, "keys", "rotate")
    assert rotated.returncode == 0, rotated.stderr
    append_records(services, 10)  # the running app picks up the new key from the keys directory
    with services.engine.connect() as conn:
        keys = jwks(conn)["keys"]
        signers = [r.key_id for r in conn.execute(select(records.c.key_id).order_by(records.c.seq))]
    assert len(keys) == 2
    assert keys[0]["exp"] == keys[1]["nbf"]  # one instant ends the old window and starts the new one
    assert signers == [keys[0]["kid"]] * COUNT + [keys[1]["kid"]] * 10
    result = advisor(settings, "verify", "--checkpoint", str(tmp_path / "before.json"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"ok: {COUNT + 10} records" in result.stdout


@SQLITE
@pytest.mark.slow
@pytest.mark.empty_database  # both servers start on a new file: they migrate it between them
def test_two_server_processes_on_one_sqlite_file_keep_one_chain(settings: Settings, tmp_path: Path) -> None:
    """Two `advisor serve` processes (two writers, one file) under concurrent load: no fork, no gap,
    every acknowledged record in the chain as acknowledged."""
    env = server_env(settings.database_url, settings.keys_dir)
    with running(2, env, tmp_path) as servers:
        load = Load(bodies(120, "two-writers"), urls=lambda: [s.url for s in servers], deadline_s=120, threads=16)
        outcomes = load.run()
    acknowledged = [o.record for o in outcomes if o.record is not None]
    assert len(acknowledged) == len(outcomes), [o.attempts for o in outcomes if o.record is None][:5]
    engine = make_engine(settings, pool_size=1)
    try:
        result = verify_database(engine, settings.log_name, workers=2)
        assert result.problem is None, result.problem
        with engine.connect() as conn:
            stored = {r.id: (r.seq, r.hash) for r in conn.execute(select(records.c.id, records.c.seq,
                                                                          records.c.hash))}
    finally:
        engine.dispose()
    assert result.records == len(stored) == len(acknowledged)
    for record in acknowledged:
        assert stored[record["id"]] == (record["receipt"]["seq"], record["receipt"]["hash"])


@SQLITE
def test_two_checkpoints_prove_the_log_only_grew_or_show_the_rewrite(settings: Settings, services: Services,
                                                                     tmp_path: Path) -> None:
    old, new, fork = tmp_path / "old.json", tmp_path / "new.json", tmp_path / "fork.json"
    assert advisor(settings, "checkpoint", str(old)).returncode == 0
    append_records(services, 9)
    assert advisor(settings, "checkpoint", str(new)).returncode == 0
    grown = advisor(settings, "verify", "--checkpoint", str(old), "--checkpoint", str(new))
    assert grown.returncode == 0, grown.stdout + grown.stderr
    assert grown.stdout.startswith(f"ok: the log of size {COUNT + 9} ")
    vkey = advisor(settings, "checkpoint", str(tmp_path / "again.json")).stderr.rsplit("note verifier key: ", 1)[1]
    assert parse_verifier_key(vkey)[0] == settings.log_name
    by_vkey = advisor(settings, "verify", "--checkpoint", str(old), "--checkpoint", str(new), "--vkey", vkey.strip())
    assert by_vkey.returncode == 0, by_vkey.stdout + by_vkey.stderr
    assert "no record read" in grown.stdout
    # With the proof (the body of GET /audit/consistency) and the published key, no database is needed:
    # the commands that read one refuse to run without it, but this one reads none.
    from advisor.store.tree import prove_consistency

    with services.engine.connect() as conn:
        path = prove_consistency(conn, COUNT, COUNT + 9)
    proof = tmp_path / "proof.json"
    proof.write_text(json.dumps({"from": COUNT, "to": COUNT + 9,
                                 "consistency_path": [base64.b64encode(h).decode("ascii") for h in path]}))
    nowhere = msgspec.structs.replace(settings, database_url=f"sqlite:///{tmp_path / 'absent' / 'advisor.db'}")
    offline = advisor(nowhere, "verify", "--checkpoint", str(old), "--checkpoint", str(new), "--proof", str(proof),
                      "--vkey", vkey.strip())
    assert offline.returncode == 0, offline.stdout + offline.stderr
    assert f"from {proof}" in offline.stdout
    assert not (tmp_path / "absent").exists()
    needs_db = advisor(nowhere, "verify", "--checkpoint", str(old), "--checkpoint", str(new), "--vkey", vkey.strip())
    assert needs_db.returncode == 2
    assert "no database at" in needs_db.stderr
    # A bare signed note (what other tlog tools exchange) works as well as our JSON form.
    (tmp_path / "old.note").write_text(json.loads(old.read_text())["note"])
    assert advisor(settings, "verify", "--checkpoint", str(tmp_path / "old.note"), "--checkpoint",
                   str(new)).returncode == 0
    with tampering(settings) as conn:  # history rewritten, the tree rebuilt and re-signed with the real key
        rewrite_payload(conn, 5, bump, rehash=True)
        rebuild_tree(conn, settings)
    rewritten = advisor(settings, "verify", "--checkpoint", str(old), "--checkpoint", str(new))
    assert rewritten.returncode == 1
    assert "does not extend" in rewritten.stdout
    # The attacker's own checkpoint at the old size is validly signed, but it is a fork of the auditor's.
    assert advisor(settings, "checkpoint", str(fork)).returncode == 0
    forked = json.loads(fork.read_text())
    assert forked["size"] == COUNT + 9
    forked_head = advisor(settings, "verify", "--checkpoint", str(new), "--checkpoint", str(fork))
    assert forked_head.returncode == 1
    assert forked_head.stdout.startswith(f"problem: fork: two signed checkpoints of {settings.log_name} at size")


@SQLITE
def test_a_chain_format_checkpoint_from_before_the_tree_still_verifies(settings: Settings, services: Services,
                                                                       tmp_path: Path) -> None:
    """An auditor's checkpoint of the chain-only log (head hash, timestamp and key lines) keeps its meaning."""
    import base64

    from advisor.audit.checkpoint import DASH, note_key_hash
    from advisor.audit.keys import load_key_dir

    key = next(iter(load_key_dir(settings.keys_dir).values()))
    size, head = services.repository.head()

    def legacy(head_hash: str) -> Path:
        text = (f"{settings.log_name}\n{size}\n{base64.b64encode(bytes.fromhex(head_hash)).decode()}\n"
                f"timestamp 2026-12-01T00:00:00.000000Z\nkey {key.kid}\n")
        blob = note_key_hash(settings.log_name, key.private_key.public_key()) + key.sign(text.encode())
        path = tmp_path / f"{head_hash[:8]}.json"
        path.write_text(json.dumps({"origin": settings.log_name, "size": size, "hash": head_hash,
                                    "note": f"{text}\n{DASH} {settings.log_name} {base64.b64encode(blob).decode()}\n"}))
        return path

    ok = advisor(settings, "verify", "--quiet", "--checkpoint", str(legacy(head)))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    other = advisor(settings, "verify", "--quiet", "--checkpoint", str(legacy("ab" * 32)))
    assert other.returncode == 1
    assert "kind=truncated" in other.stdout
    both = advisor(settings, "verify", "--checkpoint", str(legacy(head)), "--checkpoint", str(legacy(head)))
    assert both.returncode == 2
    assert "chain-format" in both.stderr


@SQLITE
def test_reviews_are_verified_by_advisor_verify_and_the_offline_verifier(app: Litestar, settings: Settings,
                                                                         tmp_path: Path) -> None:
    """Review records in the chain: the database verifier, the export's and examples/verify_export.py agree."""
    from litestar.testing import TestClient

    from advisor.auth.clients import Role
    from tests.conftest import authorised, issue_key
    from tests.factories import profile_dict

    with TestClient(app) as portal:
        authorised(portal, issue_key(app, Role.ASSESSOR))
        reviewer = authorised(TestClient(app), issue_key(app, Role.REVIEWER))
        for verdict in ("request_changes", "accept"):
            record_id = portal.post("/assess", json=profile_dict()).json()["id"]
            assert reviewer.post(f"/assessments/{record_id}/reviews", json={"verdict": verdict}).status_code == 201
    checked = advisor(settings, "verify", "--quiet")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.startswith("ok: 4 records verified")
    export, keys = tmp_path / "audit.jsonl", tmp_path / "audit.jwks.json"
    assert advisor(settings, "export", str(export)).returncode == 0
    exported = [json.loads(line) for line in export.read_text().splitlines()]
    kinds = [json.loads(e["payload"]).get("kind") for e in exported if "payload" in e]
    assert kinds == [None, "review", None, "review"]
    offline = advisor(settings, "verify", "--file", str(export), "--jwks", str(keys))
    assert offline.returncode == 0, offline.stdout
    script = [sys.executable, str(PROJECT_ROOT / "examples" / "verify_export.py"), str(export), str(keys)]
    independent = subprocess.run(script, capture_output=True, text=True, check=False, timeout=120)
    assert independent.returncode == 0, independent.stderr
    lines = export.read_text().splitlines()
    second = next(i for i, e in enumerate(exported) if e.get("seq") == 2)
    entry = json.loads(lines[second])
    entry["payload"] = entry["payload"].replace('"verdict":"request_changes"', '"verdict":"accept"')
    export.write_text("\n".join([*lines[:second], json.dumps(entry), *lines[second + 1:]]) + "\n")
    edited = advisor(settings, "verify", "--file", str(export), "--jwks", str(keys))
    assert edited.returncode == 1
    assert edited.stdout.startswith("problem: seq=2 kind=edited"), edited.stdout
    assert subprocess.run(script, capture_output=True, text=True, check=False, timeout=120).returncode == 1
