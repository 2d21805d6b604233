"""POST /assess with 1, 2 and 4 replicas on one PostgreSQL, and one process on SQLite, same load.

Usage: .venv/bin/python -m bench.replicas_bench [--profiles 2000] [--connections 32] [--seconds 15]
       [--configs sqlite:1,postgres:1,postgres:2,postgres:4] [--admin-url postgresql://postgres@127.0.0.1/postgres]

Needs `wrk` (apt-get install wrk) and a PostgreSQL it may create databases on. Each configuration
gets a fresh database, migrated once, then N `uvicorn --factory advisor.app:create_app` processes
(one worker each, shared keys dir) on loopback. One wrk process with a fixed number of threads
drives them all: thread i talks to replica i mod N, so the client side is identical for every
configuration and wrk's latency percentiles cover every request. Servers run with
ADVISOR_AUTH_REQUIRED=false and ADVISOR_RATE_LIMIT_PER_MINUTE=0 so the load measures assessing
and the log, not key lookups or throttling. Prints req/s, p50/p99, the ratio against one
PostgreSQL replica, the mean group-commit batch (records per distinct commit timestamp) and
whether every 201 was committed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

from advisor.settings import helper_processes
from bench.assess_bench import stop, wait_ready
from bench.profiles import make_profiles
from tests.network import free_port

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def lua_script(bodies: list[str], ports: list[int]) -> str:
    """Thread i targets ports[i mod N]; each thread counts its 201s; ``done`` sums them."""
    quoted = ",\n".join(json.dumps(body) for body in bodies)
    port_list = ", ".join(str(p) for p in ports)
    return f"""
local bodies = {{ {quoted} }}
local ports = {{ {port_list} }}
local threads = {{}}
local counter = 0
function setup(thread)
  local addr = wrk.lookup("127.0.0.1", tostring(ports[(counter % #ports) + 1]))[1]
  thread.addr = addr
  thread:set("offset", counter * 7919)
  counter = counter + 1
  table.insert(threads, thread)
end
local i = 0
created = 0  -- globals: ``done`` reads them from each thread with thread:get
others = 0
function init(args)
  i = offset or 0
end
local headers = {{ ["Content-Type"] = "application/json" }}
function request()
  i = (i % #bodies) + 1
  return wrk.format("POST", "/assess", headers, bodies[i])
end
function response(status, headers, body)
  if status == 201 then created = created + 1 else others = others + 1 end
end
function done(summary, latency, requests)
  local total_created, total_others = 0, 0
  for _, t in ipairs(threads) do
    total_created = total_created + t:get("created")
    total_others = total_others + t:get("others")
  end
  io.write(string.format("RESULT requests=%d created=%d others=%d p50_us=%d p99_us=%d errors=%d\\n",
    summary.requests, total_created, total_others, latency:percentile(50), latency:percentile(99),
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
"""


def run_wrk(script: Path, port: int, threads: int, connections: int, seconds: int) -> dict[str, float]:
    done = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "-s", str(script),
         f"http://127.0.0.1:{port}"],
        capture_output=True, text=True, check=False, timeout=seconds + 60,
    )
    out = done.stdout
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stdout}{done.stderr}")
    match = re.search(r"RESULT requests=(\d+) created=(\d+) others=(\d+) p50_us=(\d+) p99_us=(\d+) errors=(\d+)",
                      out)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if match is None or rate is None:
        raise RuntimeError(out)
    return {"requests": int(match[1]), "created": int(match[2]), "others": int(match[3]),
            "p50_ms": int(match[4]) / 1000, "p99_ms": int(match[5]) / 1000, "errors": int(match[6]),
            "rps": float(rate[1]), "created_rps": float(rate[1]) * int(match[2]) / max(int(match[1]), 1)}


def admin(admin_url: str, statement: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
        conn.execute(statement.encode())


def stored_stats(database_url: str) -> tuple[int, int]:
    """(records, distinct commit timestamps): a batch shares one ``created_at``, so their ratio is the batch size."""
    from sqlalchemy import func, select

    from advisor.settings import Settings
    from advisor.store.database import make_engine
    from advisor.store.tables import records

    engine = make_engine(Settings(database_url=database_url))
    try:
        with engine.connect() as conn:
            total = conn.execute(select(func.count()).select_from(records)).scalar_one()
            batches = conn.execute(select(func.count(func.distinct(records.c.created_at)))).scalar_one()
    finally:
        engine.dispose()
    return int(total), int(batches)


def serve(port: int, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [PYTHON, "-m", "uvicorn", "--factory", "advisor.app:create_app", "--host", "127.0.0.1",
             "--port", str(port), "--log-level", "warning", "--no-access-log"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)


def run_config(backend: str, replicas: int, args: argparse.Namespace, bodies: list[str],
               scratch: Path) -> dict[str, Any]:
    name = f"bench_{uuid.uuid4().hex[:12]}"
    if backend == "postgres":
        admin(args.admin_url, f'CREATE DATABASE "{name}"')
        base = args.admin_url.rsplit("/", 1)[0]
        database_url = f"{base}/{name}"
    else:
        database_url = f"sqlite:///{scratch}/{name}.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ADVISOR_")}
    # Every replica count runs the same server settings, so the comparison isolates the shared log
    # (group commit under the chain-head lock). Those are the settings for a host's share of one core:
    # 4 replicas on this host could not give helper processes a core of their own.
    evaluators, writer_process = helper_processes(1)
    env.update({"ADVISOR_DATABASE_URL": database_url, "ADVISOR_KEYS_DIR": str(scratch / "keys"),
                "ADVISOR_AUTH_REQUIRED": "false", "ADVISOR_RATE_LIMIT_PER_MINUTE": "0",
                "ADVISOR_LOG_LEVEL": "WARNING", "ADVISOR_MAX_BATCH": str(args.max_batch),
                "ADVISOR_EVALUATORS": str(evaluators), "ADVISOR_WRITER_PROCESS": str(writer_process).lower(),
                "PYTHONPATH": str(ROOT)})
    processes: list[subprocess.Popen[bytes]] = []
    try:
        subprocess.run([PYTHON, "-m", "advisor", "migrate"], env=env, cwd=ROOT, check=True, capture_output=True,
                       timeout=120)
        ports = [free_port() for _ in range(replicas)]
        processes = [serve(port, env, scratch / f"{name}-{i}.log") for i, port in enumerate(ports)]
        for port in ports:
            wait_ready(port, "/ready", timeout=90.0)
        script = scratch / f"{name}.lua"
        script.write_text(lua_script(bodies, ports))
        warmup = run_wrk(script, ports[0], args.threads, args.connections, args.warmup)
        result: dict[str, Any] = run_wrk(script, ports[0], args.threads, args.connections, args.seconds)
    finally:
        for process in processes:
            stop(process)
    stored, batches = stored_stats(database_url)
    acknowledged = warmup["created"] + result["created"]  # stored may exceed it: wrk stops mid-request
    result.update({"stored": stored, "mean_batch": stored / max(batches, 1), "all_committed": stored >= acknowledged})
    if backend == "postgres":
        admin(args.admin_url, f'DROP DATABASE "{name}" WITH (FORCE)')
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profiles", type=int, default=2000)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=4, help="wrk threads (a multiple of every replica count)")
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--max-batch", type=int, default=256)
    parser.add_argument("--configs", default="sqlite:1,postgres:1,postgres:2,postgres:4")
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk not found: apt-get install wrk")
    configs = [(b, int(n)) for b, n in (c.split(":") for c in args.configs.split(","))]

    bodies = [json.dumps(p) for p in make_profiles(args.profiles)]
    scratch = Path(tempfile.mkdtemp(prefix="replicas-bench-"))
    results: dict[str, dict[str, Any]] = {}
    try:
        for backend, replicas in configs:
            label = f"{backend} x{replicas}"
            results[label] = run_config(backend, replicas, args, bodies, scratch)
            print(f"  {label}: {results[label]['rps']:.0f} req/s", file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    print(f"{args.profiles} distinct profiles, wrk -t{args.threads} -c{args.connections}, {args.seconds}s measured "
          f"after {args.warmup}s warm-up, max batch {args.max_batch}, {os.cpu_count()} CPUs, one uvicorn worker "
          "per replica")
    evaluators, writer_process = helper_processes(1)
    print(f"every replica: {evaluators} evaluator process(es) and "
          f"{'a writer process' if writer_process else 'a writer thread'} (the settings for one core each)")
    baseline = results.get("postgres x1")
    print(f"{'config':<13} {'req/s':>7} {'201/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'non-201':>7} {'errors':>6} "
          f"{'x pg1':>6} {'batch':>6} {'201s stored':>11}")
    for label, r in results.items():
        ratio = f"{r['rps'] / baseline['rps']:.2f}" if baseline else "-"
        print(f"{label:<13} {r['rps']:>7.0f} {r['created_rps']:>7.0f} {r['p50_ms']:>7.1f} {r['p99_ms']:>7.1f} "
              f"{r['others']:>7} {r['errors']:>6} {ratio:>6} {r['mean_batch']:>6.1f} "
              f"{'yes' if r['all_committed'] else 'NO':>11}")


if __name__ == "__main__":
    main()
