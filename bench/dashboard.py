"""Dashboard benchmark: seed 100,000 payments (with their attempts) in one app, start ``cauri serve``, log in,
and time the payments list page over real HTTP for each kind of search, and a payment's page.

    python bench/dashboard.py [--payments 100000] [--requests 200] [--db sqlite|postgres|both]

Each scenario is timed request by request on one keep-alive connection (the latency a merchant sees, not a
throughput figure), after 20 requests of warm-up; p50 and p99 in milliseconds. The target is p99 < 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import nullcontext
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from run import free_port, postgres_database, wait_ready

from cauri.domain.clock import utcnow
from cauri.domain.dashboard import encode_cursor
from cauri.domain.payments import Environment
from cauri.services.apps import create_app
from cauri.services.users import create_user
from cauri.settings import Settings
from cauri.store.engine import create_engine
from cauri.store.migrate import upgrade
from cauri.store.tables import attempts, payments
from cauri.store.uow import SqlUnitOfWork

EMAIL, PASSWORD = "bench@example.com", "bench password 123"
STATUSES = ["success"] * 60 + ["failed"] * 10 + ["cancelled"] * 15 + ["pending"] * 5 + ["initiated"] * 10
METHODS = ["mtn_bj", "moov_bj", "card_xof", "wave_sn", "orange_sn"]
BATCH = 5000


async def seed(settings: Settings, count: int) -> tuple[str, dict[str, Any]]:
    """The app, and values to search for: a rare order id, a customer's email, a cursor half way down."""
    engine = create_engine(settings)
    rng = random.Random(7)
    uow = SqlUnitOfWork(engine, public_url="http://bench")
    app, _key = await create_app(uow, "Bench shop", Environment.SANDBOX, rate_limit=0,
                             expiry_minutes=200_000)  # fmt: skip  # the seeded open payments stay open
    await create_user(uow, EMAIL, PASSWORD, "owner", [app.id])
    now = utcnow()
    middle: tuple[Any, str] | None = None
    for start in range(0, count, BATCH):
        pay_rows, attempt_rows = [], []
        for i in range(start, min(start + BATCH, count)):
            at = now - timedelta(seconds=i * 78)  # ~90 days for 100,000
            status = rng.choice(STATUSES)
            payment_id = f"py_bench{i:010d}"
            pay_rows.append({
                "id": payment_id, "app_id": app.id, "environment": "sandbox", "status": status,
                "amount": rng.randrange(100, 500_000), "currency": "XOF", "description": f"Order {i}",
                "return_url": "https://shop.example/return", "customer_email": f"c{i % 5000}@example.com",
                "customer": {"id": f"cus{i:09d}", "email": f"c{i % 5000}@example.com", "first_name": "Awa",
                             "last_name": "Dossou"},
                "metadata": {"order_id": f"ord-{i}", "channel": rng.choice(["web", "app", "pos"])},
                "methods": None, "restrict_country_code": None, "restricted_phone": None, "is_processed": False,
                "processed_at": None, "initiated_at": at, "created_at": at, "updated_at": at,
            })  # fmt: skip
            if status != "initiated":
                attempt_rows.append({
                    "id": f"att_bench{i:010d}", "payment_id": payment_id, "method": rng.choice(METHODS),
                    "connector": "sandbox", "status": "success" if status == "success" else "failed",
                    "phone": "22961000000", "created_at": at, "updated_at": at, "completed_at": at,
                })  # fmt: skip
            if i == count // 2:
                middle = (at, payment_id)
        async with engine.begin() as conn:
            await conn.execute(payments.insert(), pay_rows)
            if attempt_rows:
                await conn.execute(attempts.insert(), attempt_rows)
    if settings.is_sqlite:
        async with engine.begin() as conn:
            await conn.exec_driver_sql("ANALYZE")
    else:
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.exec_driver_sql("VACUUM ANALYZE")
    await engine.dispose()
    assert middle is not None
    day = (now - timedelta(days=30)).date().isoformat()
    return app.id, {
        "order": f"ord-{count - 7}",
        "email": "c4242@example.com",
        "cursor": encode_cursor(*middle),
        "day": day,
        "payment": f"py_bench{count // 3:010d}",
    }


def scenarios(app_id: str, found: dict[str, Any]) -> list[tuple[str, str]]:
    base = f"/dashboard/payments?app={app_id}"
    return [
        ("first page, no filter", base),
        ("status=failed", f"{base}&status=failed"),
        ("method=card_xof", f"{base}&method=card_xof"),
        ("amount 1,000-2,000", f"{base}&amount_min=1000&amount_max=2000"),
        ("one day (30 days ago)", f"{base}&from={found['day']}&to={found['day']}"),
        ("customer email", f"{base}&email={found['email']}"),
        ("metadata channel=pos", f"{base}&meta=channel%3Dpos"),
        ("metadata order_id (1 match, oldest)", f"{base}&meta=order_id%3D{found['order']}"),
        ("page 1,000 (cursor half way)", f"{base}&cursor={found['cursor']}"),
        ("a payment's page", f"/dashboard/payments/{found['payment']}"),
    ]


def server_times(log: Path, skip: int) -> list[float]:
    """The request log's durations (from the request's arrival to its last byte, in the server) after ``skip``
    lines: the server's share of what the client saw, without the client's own waits for the CPU."""
    lines = log.read_text().splitlines()[skip:]
    return [json.loads(line)["duration_ms"] for line in lines if '"duration_ms"' in line]


def percentiles(timings: list[float]) -> tuple[float, float]:
    timings = sorted(timings)
    return statistics.median(timings), timings[min(len(timings) - 1, int(len(timings) * 0.99))]


def measure(base: str, paths: list[tuple[str, str]], requests: int, log: Path) -> list[tuple[Any, ...]]:
    results = []
    with httpx.Client(base_url=base, timeout=30) as client:
        page = client.get("/dashboard/login")
        token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
        answer = client.post("/dashboard/login", data={"csrf": token, "email": EMAIL, "password": PASSWORD})
        assert answer.status_code == 303, answer.text
        for name, path in paths:
            timings = []
            rows = 0
            for n in range(requests + 20):
                if n == 20:
                    skip = len(log.read_text().splitlines())
                started = time.perf_counter()
                response = client.get(path)
                elapsed = (time.perf_counter() - started) * 1000
                assert response.status_code == 200, (path, response.status_code)
                if n >= 20:
                    timings.append(elapsed)
                rows = response.text.count("<tr>") - 1
            p50, p99 = percentiles(timings)
            s50, s99 = percentiles(server_times(log, skip))
            results.append((name, p50, p99, s50, s99, max(rows, 0)))
    return results


def run(db: str, count: int, requests: int) -> list[tuple[Any, ...]]:
    with tempfile.TemporaryDirectory() as tmp, postgres_database() if db == "postgres" else nullcontext("") as pg:
        env = {**os.environ, "CAURI_DATA_DIR": tmp, "CAURI_LOG_LEVEL": "info", "CAURI_DISPATCHER_IN_SERVE": "false"}
        if pg:
            env["CAURI_DATABASE_URL"] = pg
        settings = Settings(data_dir=Path(tmp), database_url=pg)
        upgrade(settings)
        started = time.perf_counter()
        app_id, found = asyncio.run(seed(settings, count))
        print(f"{db}: seeded {count:,} payments in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        port = free_port()
        log = Path(tmp) / "requests.log"
        server = subprocess.Popen([sys.executable, "-m", "cauri", "serve", "--port", str(port)], env=env,
                                  stdout=subprocess.DEVNULL, stderr=log.open("w"))  # fmt: skip
        try:
            if not wait_ready(port, server):
                raise SystemExit("cauri did not start")
            return measure(f"http://127.0.0.1:{port}", scenarios(app_id, found), requests, log)
        finally:
            server.terminate()
            server.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--payments", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    args = parser.parse_args()
    dbs = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    print(f"load average before the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs\n")
    print("| database | scenario | rows shown | p50 / p99 seen by the client (ms) | p50 / p99 in the server (ms) |")
    print("|---|---|---|---|---|")
    for db in dbs:
        for name, p50, p99, s50, s99, rows in run(db, args.payments, args.requests):
            print(f"| {db} | {name} | {rows} | {p50:.1f} / {p99:.1f} | {s50:.1f} / {s99:.1f} |", flush=True)


if __name__ == "__main__":
    main()
