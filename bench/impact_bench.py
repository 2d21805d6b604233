"""``advisor impact`` on a large log: records/s and peak RSS, against plain evaluation of the same profiles.

Usage: .venv/bin/python -m bench.impact_bench [--records 100000] [--db var/bench/impact-log.db]
       [--sample 400] [--uncached 400]

The log is built once through the real append path (bench/audit_log.py: real signed records cycling
256 distinct profiles, many requesters). The proposed change is the rule change of the tests
(CHK-VALIDATION moved from validation-stage to growing volumes), so every replay also replays the
old rules with the new catalog for the split. Each phase runs in a fresh process, so its peak RSS
(``ru_maxrss``) is its own:

* baseline: the proposed advisor's ``assess`` over ``--sample`` of the same profiles, no database;
* impact uncached: the first ``--uncached`` records, every one replayed (cache off): read, integrity
  check, decode, replay under the new rules and under the old rules with the new catalog, count;
* impact 10%, impact full: the real command's path (replays cached by recommendation bytes, so each
  distinct stored recommendation is replayed once) over a tenth of the log and over all of it. Equal
  peak RSS for both is the flat-memory claim.

Ratios are against the baseline of the same run.
"""

from __future__ import annotations

import argparse
import itertools
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

DEFAULT_DB = Path("var/bench/impact-log.db")


def _proposed(scratch: Path) -> Any:
    from advisor.settings import Settings
    from advisor.workers.evaluators import build_advisor
    from tests.replay_fixtures import changed_rules

    return build_advisor(Settings(rules_dir=changed_rules(scratch)))


def phase(name: str, db: Path, count: int) -> dict[str, Any]:
    """One measurement in this process."""
    import msgspec

    from advisor.domain.profile import Profile
    from bench.profiles import make_profiles

    with tempfile.TemporaryDirectory() as scratch:
        proposed = _proposed(Path(scratch))
        if name == "baseline":
            profiles = [msgspec.convert(body, Profile) for body in make_profiles(256)]
            started = time.perf_counter()
            for profile in itertools.islice(itertools.cycle(profiles), count):
                proposed.assess(profile)
            seconds = time.perf_counter() - started
            done = count
        else:
            from advisor.application.reassess import Replayer
            from advisor.cli.impact import Impact
            from advisor.store.chains import RecordStream
            from advisor.store.repository import ListFilter
            from advisor.store.versions import VersionStore
            from advisor.workers.evaluators import build_advisor
            from bench.audit_log import settings_for

            settings = settings_for(db)
            from advisor.store.database import make_engine

            engine = make_engine(settings)
            current = build_advisor(settings).rulebook
            impact = Impact(proposed, Replayer(proposed, VersionStore(engine), known=[current]),
                            cache_size=0 if name == "impact uncached" else 4096)
            report = impact.run(itertools.islice(RecordStream(engine).newest_first(), count), ListFilter())
            engine.dispose()
            seconds, done = report.seconds, report.records_read
    return {"phase": name, "records": done, "seconds": seconds, "per_s": done / seconds,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def run_phase(name: str, db: Path, count: int) -> dict[str, Any]:
    out = subprocess.run([sys.executable, "-m", "bench.impact_bench", "--phase", name, "--db", str(db),
                          "--count", str(count)], capture_output=True, text=True, check=True)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--db", type=Path, default=DEFAULT_DB)
    parser.add_argument("--sample", type=int, default=400, help="profiles the baseline evaluates")
    parser.add_argument("--uncached", type=int, default=400, help="records replayed with the cache off")
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        print(json.dumps(phase(args.phase, args.db, args.count)))
        return

    from bench.audit_log import build_log

    args.db.parent.mkdir(parents=True, exist_ok=True)
    added, seconds = build_log(args.db, args.records)
    if added:
        print(f"built {added:,} signed records in {seconds:.1f} s")
    results = [run_phase("baseline", args.db, args.sample),
               run_phase("impact uncached", args.db, args.uncached),
               run_phase("impact 10%", args.db, args.records // 10),
               run_phase("impact full", args.db, args.records)]
    baseline = results[0]["per_s"]
    print(f"{'phase':<18}{'records':>10}{'seconds':>10}{'records/s':>12}{'x baseline':>12}{'peak RSS MB':>13}")
    for r in results:
        print(f"{r['phase']:<18}{r['records']:>10,}{r['seconds']:>10.1f}{r['per_s']:>12,.0f}"
              f"{r['per_s'] / baseline:>12.2f}{r['peak_rss_mb']:>13.0f}")


if __name__ == "__main__":
    main()
