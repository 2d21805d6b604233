"""POST /assess under load against a bare Litestar echo endpoint, in one run.

Usage: .venv/bin/python -m bench.assess_bench [--profiles 1000] [--connections 64] [--seconds 15]
       [--offered 0.5]

Needs `wrk` (apt-get install wrk). Each server runs as one uvicorn worker on loopback; wrk uses one
thread. The advisor's worker starts its evaluator processes as it would in production
(ADVISOR_EVALUATORS, default one per core but one); the bare endpoint has nothing to evaluate. The
advisor server runs with ADVISOR_AUTH_REQUIRED=false so the load measures assessing, not key lookups. Prints req/s and
p50/p99 for both, the ratio, whether every acknowledged request was committed, and the rule
engine's median evaluation time against its floor (one rule).

A closed loop at its peak measures queueing as much as service, so the advisor is then offered a fixed rate
(``--offered`` times the peak wrk measured, 50% by default) in an open loop (:func:`open_loop`): the same
profiles, sent on a fixed schedule whatever the answers, each latency counted from the request's scheduled
time (no coordinated omission). `hey -q` is not used: its workers tick together, so it sends bursts.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.profiles import make_profiles
from tests.network import free_port

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def wait_ready(port: int, path: str, timeout: float = 60.0) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2):
                return
        except Exception:
            time.sleep(0.2)
    raise RuntimeError(f"server on {port} not ready")


def lua_script(bodies: list[str], path: str) -> str:
    quoted = ",\n".join(json.dumps(body) for body in bodies)
    return f"""
local bodies = {{ {quoted} }}
local i = 0
local headers = {{ ["Content-Type"] = "application/json" }}
request = function()
  i = (i % #bodies) + 1
  return wrk.format("POST", "{path}", headers, bodies[i])
end
local codes = {{}}
response = function(status, headers, body)
  codes[status] = (codes[status] or 0) + 1
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT requests=%d p50_us=%d p99_us=%d errors=%d\\n", summary.requests,
    latency:percentile(50), latency:percentile(99), summary.errors.status + summary.errors.connect +
    summary.errors.read + summary.errors.write + summary.errors.timeout))
end
"""


def run_wrk(port: int, script: Path, connections: int, seconds: int) -> dict[str, float]:
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script),
         f"http://127.0.0.1:{port}"],
        capture_output=True, text=True, check=True, timeout=seconds + 60,
    ).stdout
    match = re.search(r"RESULT requests=(\d+) p50_us=(\d+) p99_us=(\d+) errors=(\d+)", out)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if match is None or rate is None:
        raise RuntimeError(out)
    return {"requests": int(match[1]), "p50_ms": int(match[2]) / 1000, "p99_ms": int(match[3]) / 1000,
            "errors": int(match[4]), "rps": float(rate[1])}


def open_loop(port: int, bodies: list[str], rate: float, seconds: int) -> dict[str, float]:
    """POST /assess at ``rate`` requests/s for ``seconds``, one request every 1/rate s whatever the answers."""
    import asyncio

    import httpx

    async def run() -> tuple[list[float], int, int]:
        latencies: list[float] = []
        codes = {"created": 0, "other": 0}
        limits = httpx.Limits(max_connections=256, max_keepalive_connections=256)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", limits=limits, timeout=60) as client:

            async def one(body: str, due: float) -> None:
                response = await client.post("/assess", content=body, headers={"content-type": "application/json"})
                latencies.append(time.perf_counter() - due)
                codes["created" if response.status_code == 201 else "other"] += 1

            start = time.perf_counter() + 0.1
            tasks = []
            for i in range(int(rate * seconds)):
                due = start + i / rate
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
                tasks.append(asyncio.create_task(one(bodies[i % len(bodies)], due)))
            await asyncio.gather(*tasks)
        return latencies, codes["created"], codes["other"]

    latencies, created, other = asyncio.run(run())
    cuts = statistics.quantiles(latencies, n=100)
    return {"offered": rate, "p50_ms": cuts[49] * 1000, "p99_ms": cuts[98] * 1000, "created": created,
            "answered": created + other}


def serve(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([PYTHON, "-m", "uvicorn", *args, "--log-level", "warning", "--no-access-log"],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=20)


def rule_timings(profiles: list[dict[str, Any]]) -> tuple[float, float]:
    """Median microseconds of one rule evaluation: the real rulebook vs a one-rule floor."""
    import msgspec

    from advisor.domain.profile import Profile
    from advisor.domain.rules import Rule, Rulebook
    from advisor.rules.engine import RuleEngine
    from advisor.settings import Settings
    from advisor.workers.evaluators import build_advisor

    advisor = build_advisor(Settings())
    facts = []
    for body in profiles:
        facts.append(advisor.fact(msgspec.convert(body, Profile)))
    floor = RuleEngine(Rulebook(rules=(Rule(id="FLR-ONE", title="floor", category="checklist", encodes="-",
                                            quote="-", rationale="-", effect="info",
                                            when={"air_gapped": False}),), digest="floor"))

    def median_us(engine: RuleEngine) -> float:
        samples = []
        for _ in range(3):
            for fact in facts:
                start = time.perf_counter_ns()
                engine.evaluate(fact)
                samples.append((time.perf_counter_ns() - start) / 1000)
        return statistics.median(samples)

    return median_us(advisor.rule_engine), median_us(floor)  # type: ignore[arg-type]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--profiles", type=int, default=1000)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--workers", type=int, default=1, help="uvicorn workers for both servers")
    parser.add_argument("--offered", type=float, default=0.5, help="open-loop rate, as a fraction of the peak")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk not found: apt-get install wrk")

    profiles = make_profiles(args.profiles)
    bodies = [json.dumps(p) for p in profiles]
    scratch = Path(tempfile.mkdtemp(prefix="assess-bench-"))
    env = {**os.environ, "ADVISOR_DATABASE_URL": f"sqlite:///{scratch}/bench.db",
           "ADVISOR_KEYS_DIR": str(scratch / "keys"), "ADVISOR_AUTH_REQUIRED": "false",
           "ADVISOR_LOG_LEVEL": "WARNING", "ADVISOR_RATE_LIMIT_PER_MINUTE": "0",
           "PYTHONPATH": str(ROOT)}
    subprocess.run([PYTHON, "-m", "advisor", "migrate"], env=env, check=True, cwd=ROOT, capture_output=True)

    results = {}
    for name, app_args, path in (
        ("bare echo", ["bench.bare_app:app"], "/echo"),
        ("POST /assess", ["--factory", "advisor.app:create_app"], "/assess"),
    ):
        port = free_port()
        script = scratch / f"{path.strip('/')}.lua"
        script.write_text(lua_script(bodies, path))
        server = serve([*app_args, "--port", str(port), "--workers", str(args.workers)], env)
        try:
            wait_ready(port, "/health" if path == "/assess" else "/schema/openapi.json")
            run_wrk(port, script, args.connections, 3)  # warm-up
            results[name] = run_wrk(port, script, args.connections, args.seconds)
            if path == "/assess":
                offered = open_loop(port, bodies, args.offered * results[name]["rps"], args.seconds)
        finally:
            stop(server)

    import sqlite3

    with sqlite3.connect(scratch / "bench.db") as db:
        stored = db.execute("SELECT count(*) FROM records").fetchone()[0]
    acknowledged = results["POST /assess"]["requests"]  # the warm-up's and the open loop's records come on top

    from advisor.workers.evaluators import default_evaluators

    evaluators = os.environ.get("ADVISOR_EVALUATORS") or str(default_evaluators())
    print(f"{args.profiles} distinct profiles, {args.connections} connections, {args.seconds}s per run, "
          f"{args.workers} uvicorn worker(s) per server (the advisor's with {evaluators} evaluator process(es) "
          f"each), wrk -t1")
    print(f"{'endpoint':<14} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for name, r in results.items():
        print(f"{name:<14} {r['rps']:>9.0f} {r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f} {r['errors']:>7}")
    ratio = results["POST /assess"]["rps"] / results["bare echo"]["rps"]
    print(f"throughput ratio assess/bare: {ratio:.2f} (target >= 0.30); "
          f"assess p99 {results['POST /assess']['p99_ms']:.1f} ms (target < 25)")
    print(f"open loop at {args.offered:.0%} of the peak ({offered['offered']:.0f} req/s offered for {args.seconds}s, "
          f"{offered['created']} of {offered['answered']} answered 201): p50 {offered['p50_ms']:.1f} ms, "
          f"p99 {offered['p99_ms']:.1f} ms")
    print(f"records stored: {stored} (measured run acknowledged {acknowledged}, plus the warm-up's); "
          f"every 201 committed first: {'yes' if stored >= acknowledged else 'NO'}")
    rules_us, floor_us = rule_timings(profiles)
    print(f"rule evaluation median: {rules_us:.0f} us with the full rulebook vs {floor_us:.0f} us floor "
          f"(one rule): {rules_us / floor_us:.1f}x")
    shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
