"""One command for the initialize benchmark: Cauri against three baselines, side by side, in one run.

    .venv/bin/python bench/run.py [--duration 10] [--connections 16] [--db both|postgres|sqlite]

For each target: peak throughput and latency with wrk (closed loop, N connections), then latency at half of
that peak with an open-loop generator (bench/loadgen.py). Prints a markdown table and writes it to
bench/results/latest.md. Everything runs on loopback and stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).parent))
import loadgen

HERE = Path(__file__).parent
BIN = Path(sys.executable).parent
PG_ADMIN = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
BODY = (
    b'{"amount":5000,"currency":"XOF","description":"Order #123",'
    b'"customer":{"email":"awa@example.com","first_name":"Awa","last_name":"Dossou"},'
    b'"return_url":"https://shop.example/return?order=123","metadata":{"order_id":"123"}}'
)  # the same body as initialize.lua


@dataclass
class Target:
    name: str
    database: str
    start: Callable[[int], tuple[subprocess.Popen[bytes], str]]  # port -> (process, secret key)


@dataclass
class Figures:
    target: str
    database: str
    rps: float
    p50: float
    p99: float
    errors: int
    half_rps: float = 0.0
    half_p50: float = float("nan")
    half_p99: float = float("nan")
    half_errors: int = 0
    #: The server process's CPU time (all its threads) per request at peak, in microseconds: user, system.
    cpu_us: tuple[float, float] | None = None


def cpu_seconds(pid: int) -> tuple[float, float] | None:
    """A process's user and system CPU seconds so far (Linux's /proc; None elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def uvicorn_target(module: str, env: dict[str, str]) -> Callable[[int], tuple[subprocess.Popen[bytes], str]]:
    def start(port: int) -> tuple[subprocess.Popen[bytes], str]:
        cmd = [str(BIN / "uvicorn"), f"{module}:app", "--app-dir", str(HERE), "--port", str(port),
               "--no-access-log", "--loop", "uvloop", "--http", "httptools", "--log-level", "warning"]  # fmt: skip
        return subprocess.Popen(cmd, env={**os.environ, **env}), ""

    return start


def cauri_target(env: dict[str, str]) -> Callable[[int], tuple[subprocess.Popen[bytes], str]]:
    def start(port: int) -> tuple[subprocess.Popen[bytes], str]:
        full = {**os.environ, **env, "CAURI_LOG_LEVEL": "warning"}
        created = subprocess.run(
            [str(BIN / "cauri"), "apps", "create", "bench", "--rate-limit", "0", "--json"],
            env=full, capture_output=True, check=True,
        )  # fmt: skip
        secret = json.loads(created.stdout)["secret_key"]
        cmd = [str(BIN / "cauri"), "serve", "--port", str(port)]
        return subprocess.Popen(cmd, env=full, stdout=subprocess.DEVNULL), secret

    return start


def wait_ready(port: int, proc: subprocess.Popen[bytes], timeout: float = 20) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
        time.sleep(0.1)
    return False


def wrk(url: str, secret: str, seconds: float, connections: int) -> tuple[float, float, float, int, int]:
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{int(seconds)}s", "--latency", "-s", str(HERE / "initialize.lua"), url,
         "--", secret],
        capture_output=True, text=True, check=True, timeout=seconds + 30,
    ).stdout  # fmt: skip

    def ms(label: str) -> float:
        match = re.search(rf"{label}%\s+([\d.]+)(us|ms|s)", out)
        if not match:
            return float("nan")
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rps, ms("50"), ms("99"), int(bad.group(1)) if bad else 0, total


def measure(target: Target, seconds: float, connections: int) -> Figures | None:
    port = free_port()
    proc, secret = target.start(port)
    try:
        if not wait_ready(port, proc):
            print(f"  skipped {target.name} on {target.database}: it did not start", file=sys.stderr)
            return None
        url = f"http://127.0.0.1:{port}"
        wrk(url, secret, 2, connections)  # warm-up: connections, prepared statements, caches
        before = cpu_seconds(proc.pid)
        rps, p50, p99, errors, total = wrk(url, secret, seconds, connections)
        after = cpu_seconds(proc.pid)
        if errors > total / 2:
            raise SystemExit(f"{target.name} on {target.database}: {errors} of {total} responses were errors")
        figures = Figures(target.name, target.database, rps, p50, p99, errors)
        if before and after and total:
            figures.cpu_us = ((after[0] - before[0]) / total * 1e6, (after[1] - before[1]) / total * 1e6)
        half = asyncio.run(loadgen.run(url, secret, BODY, rps / 2, seconds, connections))
        figures.half_rps = len(half.latencies_ms) / half.elapsed
        figures.half_p50, figures.half_p99 = half.percentile(50), half.percentile(99)
        figures.half_errors = half.errors
        return figures
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


@contextlib.contextmanager
def postgres_database() -> Iterator[str]:
    name = f"cauri_bench_{secrets.token_hex(4)}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(PG_ADMIN)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def table(rows: list[Figures], connections: int) -> str:
    # Each target is read against the raw baseline of its own database: (a) on PostgreSQL, (c) on SQLite.
    raw = {r.database: r.rps for r in rows if r.target.startswith(("(a)", "(c)"))}
    lines = [
        f"| target | database | req/s at peak ({connections} conns) | p50 / p99 at peak (ms) "
        "| req/s at half peak | p50 / p99 at half peak (ms) | throughput / raw baseline "
        "| server CPU a request at peak, µs (user + system) | errors |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        base = raw.get(r.database)
        ratio = f"{r.rps / base:.2f}" if base else "n/a"
        cpu = f"{sum(r.cpu_us):.0f} ({r.cpu_us[0]:.0f} + {r.cpu_us[1]:.0f})" if r.cpu_us else "n/a"
        lines.append(
            f"| {r.target} | {r.database} | {r.rps:,.0f} | {r.p50:.1f} / {r.p99:.1f} | {r.half_rps:,.0f} "
            f"| {r.half_p50:.1f} / {r.half_p99:.1f} | {ratio} | {cpu} | {r.errors + r.half_errors} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=10, help="seconds per measurement")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--db", choices=["both", "postgres", "sqlite"], default="both")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get install wrk")

    rows: list[Figures] = []
    with tempfile.TemporaryDirectory() as tmp, postgres_database() as pg:
        targets: list[Target] = []
        if args.db in ("both", "postgres"):
            targets += [
                Target("(a) Starlette + asyncpg", "PostgreSQL",
                       uvicorn_target("baseline_starlette_asyncpg", {"BENCH_DATABASE_URL": pg})),
                Target("(b) FastAPI + ORM", "PostgreSQL",
                       uvicorn_target("baseline_fastapi_orm", {"BENCH_DATABASE_URL": pg})),
                Target("Cauri", "PostgreSQL",
                       cauri_target({"CAURI_DATABASE_URL": pg, "CAURI_DATA_DIR": f"{tmp}/pg"})),
            ]  # fmt: skip
        if args.db in ("both", "sqlite"):
            targets += [
                Target("(c) Starlette + sqlite3", "SQLite",
                       uvicorn_target("baseline_starlette_sqlite", {"BENCH_DATABASE_URL": f"sqlite:///{tmp}/raw.db"})),
                Target("(b) FastAPI + ORM", "SQLite",
                       uvicorn_target("baseline_fastapi_orm", {"BENCH_DATABASE_URL": f"sqlite+aiosqlite:///{tmp}/orm.db"})),
                Target("Cauri", "SQLite", cauri_target({"CAURI_DATA_DIR": f"{tmp}/sqlite"})),
            ]  # fmt: skip
        for target in targets:
            print(f"measuring {target.name} on {target.database}…", file=sys.stderr)
            figures = measure(target, args.duration, args.connections)
            if figures:
                rows.append(figures)
    report = table(rows, args.connections)
    print(report)
    results = HERE / "results"
    results.mkdir(exist_ok=True)
    (results / "latest.md").write_text(report + "\n")


if __name__ == "__main__":
    main()
