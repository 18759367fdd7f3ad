"""Latency at a fixed rate, build against build: how this night's tail figures were measured (README.md).

    .venv/bin/python bench/tail.py [OTHER_CHECKOUT] [--db sqlite|postgres] [--rate 2500] [--rounds 3] [--duration 10]

Each round serves a build with ``cauri serve`` on a fresh database, warms it up with wrk for 2 s, then sends
``--rate`` payments a second for ``--duration`` seconds with the open-loop generator (``loadgen.py``: latency
from each request's scheduled time) and prints p50, p99, the slowest request and how many took over 15 ms.
With OTHER_CHECKOUT (``git worktree add ../before <commit>``) its build (A) and this one (B) alternate, round
after round. Read the rounds, not one figure: the machines are shared and a noisy moment moves a p99 by tens of
milliseconds. Everything runs on loopback.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import loadgen
import run as bench
from ab import checkout_src, served

SLOW_MS = 15.0


def tail(src: Path | None, kind: str, rate: float, seconds: float) -> str:
    with served(src, kind, 16) as (url, secret):
        result = asyncio.run(loadgen.run(url, secret, bench.BODY, rate, seconds, 16))
    slow = sum(latency > SLOW_MS for latency in result.latencies_ms)
    return (
        f"{len(result.latencies_ms) / result.elapsed:,.0f}/s  p50 {result.percentile(50):.1f} ms  "
        f"p99 {result.percentile(99):.1f} ms  max {max(result.latencies_ms):.0f} ms  "
        f"over {SLOW_MS:.0f} ms: {slow}  errors: {result.errors}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("other", type=Path, nargs="?", help="a second checkout of the repository: build A")
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--rate", type=float, default=2500, help="payments a second")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=10, help="seconds measured per build and round")
    args = parser.parse_args()
    other = checkout_src(args.other) if args.other is not None else None
    for n in range(1, args.rounds + 1):
        if other is not None:
            print(f"round {n} A: {tail(other, args.db, args.rate, args.duration)}", flush=True)
        print(f"round {n} B: {tail(None, args.db, args.rate, args.duration)}", flush=True)


if __name__ == "__main__":
    main()
