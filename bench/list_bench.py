"""``GET /assessments`` on a large log: p50/p99 per page for each filter, against the unfiltered listing.

Usage: .venv/bin/python -m bench.list_bench [--records 1000000] [--db var/bench/audit-log.db] [--pages 200]

A filter nothing matches is the worst case for a column without an index (the whole table is read).
Uses the log bench/verify_bench.py builds (building it if missing) and the real app in process
(Litestar routing, validation, the repository query, encoding), auth off. Each filter is asked
``--pages`` times: first pages and pages deeper down its cursor. The baseline is the unfiltered
first page; each filter's p99 is also given as a ratio to it. Target: p99 per page < 10 ms.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Any

DEFAULT_DB = Path("var/bench/audit-log.db")


def percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--db", type=Path, default=DEFAULT_DB)
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--limit", type=int, default=50)
    args = parser.parse_args()

    from litestar.testing import TestClient
    from sqlalchemy import select

    from advisor.app import create_app
    from advisor.settings import Settings
    from advisor.store.tables import records
    from bench.audit_log import build_log

    args.db.parent.mkdir(parents=True, exist_ok=True)
    build_log(args.db, args.records)
    settings = Settings(database_url=f"sqlite:///{args.db}", keys_dir=args.db.parent / "keys", auth_required=False,
                        rate_limit_per_minute=0)
    app = create_app(settings)
    with app.state.services.engine.connect() as conn:
        size = int(conn.execute(select(records.c.seq).order_by(records.c.seq.desc()).limit(1)).scalar_one())
        middle = conn.execute(select(records).where(records.c.seq == size // 2)).one()
        window_end = conn.execute(select(records.c.created_at).where(records.c.seq == size // 2 + 20_000)).scalar()
    queries: dict[str, dict[str, Any]] = {
        "unfiltered (baseline)": {},
        "organization": {"organization": middle.organization},
        # Case-insensitive prefixes (names are "Org 00000".."Org 00255"): one organisation, ten, and all of them.
        "org prefix, 1 org": {"organization": middle.organization.lower()},
        "org prefix, 10 orgs": {"organization": middle.organization.lower()[:-1]},
        "org prefix, every org": {"organization": "org"},
        "org prefix, no match": {"organization": "zzz"},
        "q substring": {"q": middle.organization[-3:].upper()},
        "requester": {"requester": middle.requester},
        "decision": {"decision": middle.decision},
        "strength": {"strength": middle.strength},
        "rules_digest": {"rules_digest": middle.rules_digest},
        "organization + decision": {"organization": middle.organization, "decision": middle.decision},
        "rules_digest, no match": {"rules_digest": "sha256:" + "0" * 64},  # a digest no record has
        "created_from..created_to": {"created_from": middle.created_at, "created_to": window_end or middle.created_at},
    }
    with TestClient(app) as client:
        timings: dict[str, list[float]] = {}
        for name, params in queries.items():
            samples: list[float] = []
            cursor = None
            while len(samples) < args.pages:
                query = {**params, "limit": args.limit, **({"cursor": cursor} if cursor else {})}
                started = time.perf_counter()
                response = client.get("/assessments", params=query)
                samples.append((time.perf_counter() - started) * 1000)
                if response.status_code != 200:
                    raise SystemExit(f"{name}: {response.status_code} {response.text[:300]}")
                cursor = response.json()["next_cursor"]
                if cursor is None or len(samples) % 20 == 0:  # first pages, and runs of 20 pages deep
                    cursor = None
            timings[name] = samples
    baseline = percentile(timings["unfiltered (baseline)"], 0.99)
    print(f"{size:,} records ({args.db}), {args.pages} pages of {args.limit} per filter, in-process HTTP, SQLite")
    print(f"{'filter':<28} {'p50 ms':>8} {'p99 ms':>8} {'p99 / baseline':>15}")
    for name, samples in timings.items():
        p99 = percentile(samples, 0.99)
        print(f"{name:<28} {statistics.median(samples):>8.2f} {p99:>8.2f} {p99 / baseline:>15.2f}")
    worst = max(percentile(s, 0.99) for s in timings.values())
    print(f"worst p99 {worst:.2f} ms (target < 10 ms)")


if __name__ == "__main__":
    main()
