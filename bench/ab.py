"""A/B of initialize between two builds, alternated: how this evening's steps were measured (README.md).

    .venv/bin/python bench/ab.py OTHER_CHECKOUT [--db sqlite|postgres] [--rounds 3] [--duration 6]

OTHER_CHECKOUT is a second checkout of the repository (``git worktree add ../before <commit>``): build A is its
code (its ``src`` put first on PYTHONPATH), build B this one. Each round serves each build with ``cauri serve``
on a fresh database (a new SQLite data directory, or a new PostgreSQL database dropped after), warms it up for
2 s, then measures with wrk at 16 connections. The machine is shared and noisy: read the rounds, not one
figure, and trust only a difference that most rounds agree on. Everything runs on loopback.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import run as bench


@contextlib.contextmanager
def database(kind: str) -> Iterator[dict[str, str]]:
    """The environment of a build served on a fresh database of ``kind``."""
    with tempfile.TemporaryDirectory() as data:
        if kind == "sqlite":
            yield {"CAURI_DATA_DIR": data}
            return
        with bench.postgres_database() as url:
            yield {"CAURI_DATA_DIR": data, "CAURI_DATABASE_URL": url}


@contextlib.contextmanager
def served(src: Path | None, kind: str, connections: int) -> Iterator[tuple[str, str]]:
    """The URL and secret key of the build whose ``src`` is given (None: this checkout's), served on a fresh
    database of ``kind`` and warmed up for 2 s; stopped on leaving."""
    with database(kind) as env:
        if src is not None:
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(src), os.environ.get("PYTHONPATH")]))
        port = bench.free_port()
        proc, secret = bench.cauri_target(env)(port)
        try:
            if not bench.wait_ready(port, proc):
                raise SystemExit(f"the build of {src or 'this checkout'} did not start")
            url = f"http://127.0.0.1:{port}"
            bench.wrk(url, secret, 2, connections)  # warm-up
            yield url, secret
        finally:
            proc.terminate()
            proc.wait(10)


def checkout_src(checkout: Path) -> Path:
    """The ``src`` directory of a second checkout of the repository."""
    src = (checkout / "src").resolve()
    if not (src / "cauri").is_dir():
        raise SystemExit(f"{checkout} is not a checkout of the repository (no src/cauri)")
    return src


def peak(src: Path | None, kind: str, seconds: float, connections: int) -> float:
    """Payments a second at peak for the build whose ``src`` is given (None: this checkout's)."""
    with served(src, kind, connections) as (url, secret):
        rps, _p50, _p99, errors, total = bench.wrk(url, secret, seconds, connections)
    if errors:
        raise SystemExit(f"the build of {src or 'this checkout'}: {errors} of {total} answers were errors")
    return rps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("other", type=Path, help="a second checkout of the repository: build A")
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=6, help="seconds measured per build and round")
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    src = checkout_src(args.other)
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get install wrk")
    a: list[float] = []
    b: list[float] = []
    for n in range(1, args.rounds + 1):
        a.append(peak(src, args.db, args.duration, args.connections))
        b.append(peak(None, args.db, args.duration, args.connections))
        print(f"round {n}: A {a[-1]:,.0f}/s  B {b[-1]:,.0f}/s")
    mean_a, mean_b = sum(a) / len(a), sum(b) / len(b)
    ahead = sum(y > x for x, y in zip(a, b, strict=True))
    print(f"A {mean_a:,.0f}/s, B {mean_b:,.0f}/s: {mean_b / mean_a - 1:+.1%}, B ahead in {ahead} of {len(a)} rounds")


if __name__ == "__main__":
    main()
