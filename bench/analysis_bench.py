"""The review board's analysis against one assessment: a 25-point curve and a what-if with its flip search.

Usage: .venv/bin/python -m bench.analysis_bench [--profiles 40] [--points 25]

Each question is asked of the same distinct, valid profiles (bench/profiles.py) in process, no HTTP;
the baseline is ``Advisor.assess`` of the same profile, measured in the same run, so the ratios say
how many assessments' worth of CPU each question costs. Profiles the catalog cannot serve are skipped.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import time
from collections.abc import Callable

import msgspec


def timed(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return (time.perf_counter() - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profiles", type=int, default=40)
    parser.add_argument("--points", type=int, default=25)
    args = parser.parse_args()

    from advisor.analysis.service import Analysis
    from advisor.analysis.what_if import Shocks
    from advisor.application.evaluate import ProfileError
    from advisor.domain.profile import Profile
    from advisor.settings import Settings
    from advisor.workers.evaluators import build_advisor
    from bench.profiles import make_profiles

    advisor = build_advisor(Settings())
    analysis = Analysis(advisor)
    profiles = []
    for body in make_profiles(args.profiles):
        profile = msgspec.convert(body, Profile)
        try:
            advisor.assess(profile)  # warms the shared plan cache as a running server's would be
        except ProfileError:
            continue
        profiles.append(profile)
    shocks = Shocks(managed_price=-0.2, gpu_price=0.1)
    timings: dict[str, list[float]] = {"assess (baseline)": [], f"curve, {args.points} points": [],
                                       "what-if with flip search": []}
    flips = 0
    for profile in profiles:
        timings["assess (baseline)"].append(timed(functools.partial(advisor.assess, profile)))
        timings[f"curve, {args.points} points"].append(timed(functools.partial(analysis.curve, profile, args.points)))
        started = time.perf_counter()
        result = analysis.what_if(profile, shocks, args.points)
        timings["what-if with flip search"].append((time.perf_counter() - started) * 1000)
        flips += sum(1 for f in result.flips if f.change is not None)
    baseline = statistics.median(timings["assess (baseline)"])
    print(f"{len(profiles)} profiles, in process, one thread; what-if shocks {msgspec.json.encode(shocks).decode()}, "
          f"{flips} flip points found ({flips / len(profiles):.1f} of 8 per profile)")
    print(f"{'question':<28} {'p50 ms':>8} {'p90 ms':>8} {'max ms':>8} {'p50 / assess':>13}")
    for name, samples in timings.items():
        ordered = sorted(samples)
        p50, p90 = statistics.median(ordered), ordered[int(0.9 * (len(ordered) - 1))]
        print(f"{name:<28} {p50:>8.1f} {p90:>8.1f} {ordered[-1]:>8.1f} {p50 / baseline:>13.1f}")


if __name__ == "__main__":
    main()
