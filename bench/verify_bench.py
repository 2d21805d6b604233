"""Verifying the whole signed log: records/s with every check and signature, against a hashes-only walk.

Usage: .venv/bin/python -m bench.verify_bench [--records 1000000] [--db var/bench/audit-log.db] [--workers N]
       [--repeat N] [--commit-size 5000]

Builds the log once (reused by later runs and by bench/list_bench.py) through the real append path
(bench/audit_log.py), then measures two walks of it, each in a fresh process so its peak RSS is its own:
the baseline reads every record and checks only hashes and links, one core; the verifier checks
everything (hash, columns, position, key and its window, links, the head; for a record with its own JWS
its canonical bytes and Ed25519 signature; for a record signed per commit, its commit's signed
checkpoint: the note's Ed25519 signature and its root against the recomputed tree) with worker processes.
Prints both rates, their ratio, CPU per record, and peak RSS (VmHWM) of the verifier, of each of its
child processes (workers, and multiprocessing's resource tracker) and of the whole tree: the sum of their
peaks (an upper bound, which counts shared library pages once per process), and the largest sums of RSS
and of PSS (shared pages split between the processes sharing them) sampled at one time.
Targets: >= 20,000 records/s with signatures on 2 cores, peak RSS < 150 MB.

Heavy imports stay inside functions: the verifier's workers are spawned and re-import this module.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

DEFAULT_DB = Path("var/bench/audit-log.db")


def measure(db: Path, mode: str, workers: int | None) -> dict[str, Any]:
    """One walk of the log in this process; what it cost."""
    import hashlib

    from advisor.audit.formats import GENESIS_HASH
    from advisor.settings import Settings
    from advisor.store.database import make_engine
    from advisor.store.verification import database_records, verify_database

    settings = Settings(database_url=f"sqlite:///{db}", keys_dir=db.parent / "keys")  # no app: a lean process
    engine = make_engine(settings, pool_size=2)
    sampler = TreePeak()
    sampler.start()
    started = time.perf_counter()
    if mode == "hashes":
        count, prev, expected = 0, GENESIS_HASH, 1
        for record in database_records(engine):
            if (record.seq != expected or record.prev_hash != prev
                    or hashlib.sha256(record.payload.encode("utf-8")).hexdigest() != record.hash):
                raise SystemExit(f"hashes-only walk failed at {record.seq}")
            count, prev, expected = count + 1, record.hash, expected + 1
    else:
        result = verify_database(engine, settings.log_name, workers=workers)
        if result.problem is not None:
            raise SystemExit(f"verification failed: {result.problem}")
        count = result.records
    seconds = time.perf_counter() - started
    sampler.stop()
    engine.dispose()
    cpu = sum(getattr(resource.getrusage(who), f) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
              for f in ("ru_utime", "ru_stime"))  # this process and its (reaped) workers
    own = vm_hwm_kb("self")
    children = sorted(sampler.child_peaks_kb.values(), reverse=True)
    return {"records": count, "seconds": seconds, "rate": count / seconds, "hwm_mb": own / 1024,
            "cpu_us": cpu / count * 1e6,
            "rusage_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "children_rusage_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
            "worker_hwm_mb": (children[0] if children else 0) / 1024,
            "children_hwm_mb": [kb / 1024 for kb in children],
            "tree_hwm_sum_mb": (own + sum(children)) / 1024,
            "tree_rss_peak_mb": sampler.tree_rss_peak_kb / 1024, "tree_pss_peak_mb": sampler.tree_pss_peak_kb / 1024}


def vm_hwm_kb(pid: str) -> int:
    """Peak resident set of a process since its exec (``getrusage`` also counts the pages a process held
    between fork and exec, i.e. its parent's: here the parent that built the log, or this verifier)."""
    return _status_kb(pid, "VmHWM:")


def _status_kb(pid: str, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1])
    return 0


def pss_kb(pid: str) -> int:
    """Proportional set size: pages shared by several processes (libraries) counted once across them."""
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1])
    return 0


def descendants(pid: int) -> list[str]:
    found: list[str] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            found.append(child)
            try:
                found.extend(descendants(int(child)))
            except OSError:
                continue
    return found


class TreePeak(threading.Thread):
    """Peaks of this process's descendants (the verifier's workers, the resource tracker), sampled while
    they run: each one's VmHWM, and the largest sum of this process's and their current RSS."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.child_peaks_kb: dict[str, int] = {}
        self.tree_rss_peak_kb = self.tree_pss_peak_kb = 0
        self._done = threading.Event()

    def sample(self) -> None:
        me = os.getpid()
        total, proportional = _status_kb("self", "VmRSS:"), pss_kb("self")
        for child in descendants(me):
            try:
                self.child_peaks_kb[child] = max(self.child_peaks_kb.get(child, 0), vm_hwm_kb(child))
                total += _status_kb(child, "VmRSS:")
                proportional += pss_kb(child)
            except OSError:  # exited meanwhile
                continue
        self.tree_rss_peak_kb = max(self.tree_rss_peak_kb, total)
        self.tree_pss_peak_kb = max(self.tree_pss_peak_kb, proportional)

    def run(self) -> None:
        while not self._done.wait(0.1):
            self.sample()

    def stop(self) -> None:
        self._done.set()
        self.join()


def run_child(db: Path, mode: str, workers: int | None) -> dict[str, Any]:
    command = [sys.executable, "-m", "bench.verify_bench", "--measure", mode, "--db", str(db)]
    if workers is not None:
        command += ["--workers", str(workers)]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    result: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--db", type=Path, default=DEFAULT_DB)
    parser.add_argument("--workers", type=int, default=None, help="processes checking records, the verifier "
                        "included (default: one per CPU)")
    parser.add_argument("--repeat", type=int, default=1, help="walks of each kind; the fastest is reported")
    parser.add_argument("--commit-size", type=int, default=5000, help="records per group commit when building "
                        "the log (one signed checkpoint each; the writer's max_batch is 256)")
    parser.add_argument("--measure", choices=["hashes", "full"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.db, args.measure, args.workers)))
        return

    from bench.audit_log import build_log

    args.db.parent.mkdir(parents=True, exist_ok=True)
    appended, seconds = build_log(args.db, args.records, batch=args.commit_size)
    if appended:
        print(f"built: {appended:,} records in {seconds:.0f} s ({appended / seconds:,.0f}/s); "
              f"database {args.db.stat().st_size / 1e9:.2f} GB")
    baselines = [run_child(args.db, "hashes", None) for _ in range(args.repeat)]
    fulls = [run_child(args.db, "full", args.workers) for _ in range(args.repeat)]
    baseline = max(baselines, key=lambda r: r["rate"])
    full = max(fulls, key=lambda r: r["rate"])
    if args.repeat > 1:
        rates = {name: ", ".join(f"{r['rate']:,.0f}" for r in runs) for name, runs in (("baseline", baselines),
                                                                                       ("verify", fulls))}
        print(f"rates of the {args.repeat} walks: baseline {rates['baseline']}; verify {rates['verify']}")
    workers = args.workers if args.workers is not None else len(os.sched_getaffinity(0))
    print(f"records:                     {int(full['records']):,} ({args.db})")
    print(f"baseline, hashes+links only: {baseline['rate']:,.0f} records/s (1 process, {baseline['seconds']:.1f} s)")
    print(f"verify, everything:          {full['rate']:,.0f} records/s ({workers} workers: the verifier and "
          f"{max(workers - 1, 0)} worker processes, {full['seconds']:.1f} s); target >= 20,000/s")
    print(f"ratio verify / baseline:     {full['rate'] / baseline['rate']:.3f}")
    cores = len(os.sched_getaffinity(0))
    print(f"CPU per record:              verify {full['cpu_us']:.0f} us (all processes), baseline "
          f"{baseline['cpu_us']:.0f} us: on {cores} idle cores at most {cores * 1e6 / full['cpu_us']:,.0f} records/s "
          "(the wall-clock rate above is lower when other work shares the CPUs)")
    children = ", ".join(f"{mb:.0f}" for mb in full["children_hwm_mb"]) or "none"
    print(f"peak RSS (VmHWM): verifier {full['hwm_mb']:.0f} MB, its child processes {children} MB, "
          f"baseline walk {baseline['hwm_mb']:.0f} MB; target < 150 MB")
    print(f"  process tree: sum of peaks {full['tree_hwm_sum_mb']:.0f} MB; sampled every 0.1 s, largest sum of RSS "
          f"{full['tree_rss_peak_mb']:.0f} MB, of PSS {full['tree_pss_peak_mb']:.0f} MB")
    print(f"  (getrusage, which also counts the parent's pages held before exec: verifier {full['rusage_mb']:.0f} MB, "
          f"workers {full['children_rusage_mb']:.0f} MB)")


if __name__ == "__main__":
    main()
