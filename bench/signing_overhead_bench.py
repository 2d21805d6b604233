"""What signing and chaining cost ``POST /assess``: the real app against the same app storing unsigned.

Usage: .venv/bin/python -m bench.signing_overhead_bench [--profiles 1000] [--connections 32] [--seconds 10]
       [--rounds 3]

Both servers are one uvicorn worker on loopback with their own fresh SQLite file (synchronous=FULL,
the default), auth off; wrk (one thread) sends the same distinct profiles. The baseline
(bench/unsigned_app.py) differs only in leaving out the hash, the chain head, the Merkle tree and the
commit's signed checkpoint (one Ed25519 signature per group commit, none per record). Rounds
alternate between the two to spread drift; the medians are compared.
Target: signing and chaining cost <= 10% of throughput.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import tempfile
from pathlib import Path

from bench.assess_bench import PYTHON, ROOT, lua_script, run_wrk, serve, stop, wait_ready
from bench.profiles import make_profiles
from tests.network import free_port

VARIANTS = {"signed + chained": "advisor.app:create_app", "unsigned (baseline)": "bench.unsigned_app:create_app"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profiles", type=int, default=1000)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk not found: apt-get install wrk")
    scratch = Path(tempfile.mkdtemp(prefix="signing-bench-"))
    script = scratch / "assess.lua"
    script.write_text(lua_script([json.dumps(p) for p in make_profiles(args.profiles)], "/assess"))
    envs = {}
    for index, name in enumerate(VARIANTS):
        envs[name] = {**os.environ, "ADVISOR_DATABASE_URL": f"sqlite:///{scratch}/{index}.db",
                      "ADVISOR_KEYS_DIR": str(scratch / "keys"), "ADVISOR_AUTH_REQUIRED": "false",
                      "ADVISOR_RATE_LIMIT_PER_MINUTE": "0", "ADVISOR_LOG_LEVEL": "WARNING", "PYTHONPATH": str(ROOT)}
        subprocess.run([PYTHON, "-m", "advisor", "migrate"], env=envs[name], check=True, cwd=ROOT,
                       capture_output=True)
    results: dict[str, list[dict[str, float]]] = {name: [] for name in VARIANTS}
    try:
        for _ in range(args.rounds):
            for name, factory in VARIANTS.items():
                port = free_port()
                server = serve(["--factory", factory, "--port", str(port)], envs[name])
                try:
                    wait_ready(port, "/health")
                    run_wrk(port, script, args.connections, 2)  # warm-up
                    results[name].append(run_wrk(port, script, args.connections, args.seconds))
                finally:
                    stop(server)
        signed_db = scratch / "0.db"
        with sqlite3.connect(signed_db) as db:
            stored, signed = db.execute("SELECT count(*), count(DISTINCT key_id) FROM records").fetchone()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    print(f"{args.profiles} profiles, {args.connections} connections, {args.rounds} x {args.seconds}s per variant, "
          "1 uvicorn worker, wrk -t1, SQLite synchronous=FULL")
    print(f"{'variant':<20} {'req/s (median)':>15} {'runs':>24} {'p99 ms':>8} {'errors':>7}")
    medians = {}
    for name, runs in results.items():
        medians[name] = statistics.median(r["rps"] for r in runs)
        each = " ".join(f"{r['rps']:.0f}" for r in runs)
        print(f"{name:<20} {medians[name]:>15.0f} {each:>24} "
              f"{statistics.median(r['p99_ms'] for r in runs):>8.1f} {sum(r['errors'] for r in runs):>7.0f}")
    ratio = medians["signed + chained"] / medians["unsigned (baseline)"]
    print(f"ratio signed / unsigned: {ratio:.3f}; overhead {100 * (1 - ratio):.1f}% (target <= 10%)")
    print(f"signed log after the runs: {stored} records, {signed} signing key(s)")


if __name__ == "__main__":
    main()
