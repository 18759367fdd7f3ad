"""Webhook benchmark: deliveries per second with one ``cauri worker`` on PostgreSQL, and the delay from a
payment's event to its webhook's arrival at a local receiver (p50/p99).

    .venv/bin/python bench/webhooks.py [--backlog 3000] [--rate 50] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

sys.path.insert(0, str(Path(__file__).parent))
from run import BIN, free_port, postgres_database, wait_ready

arrivals: dict[str, float] = {}


async def hook(request: Request) -> Response:
    arrivals[orjson.loads(await request.body())["data"]["id"]] = time.time()
    return Response("ok")


def start_receiver() -> str:
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(Starlette(routes=[Route("/hook", hook, methods=["POST"])]), port=port, log_level="warning")
    )
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.02)
    return f"http://127.0.0.1:{port}/hook"


async def create_payments(url: str, key: str, count: int, rate: float | None) -> dict[str, float]:
    sent: dict[str, float] = {}
    body = {"amount": 5000, "currency": "XOF", "description": "Order", "return_url": "https://shop.example/r",
            "customer": {"email": "awa@example.com", "first_name": "Awa", "last_name": "Dossou"}}  # fmt: skip
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {key}"}, timeout=10) as client:
        start = time.perf_counter()
        for i in range(count):
            if rate:
                delay = start + i / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
            at = time.time()
            response = await client.post(f"{url}/v1/payments/initialize", json=body)
            sent[response.json()["data"]["id"]] = at
    return sent


def wait_for(ids: set[str], timeout: float) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not ids <= arrivals.keys():
        time.sleep(0.01)
    return time.monotonic()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backlog", type=int, default=3000)
    parser.add_argument("--rate", type=float, default=50)
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    receiver = start_receiver()
    with tempfile.TemporaryDirectory() as tmp, postgres_database() as pg:
        env = {**os.environ, "CAURI_DATABASE_URL": pg, "CAURI_DATA_DIR": tmp, "CAURI_LOG_LEVEL": "warning",
               "CAURI_DISPATCHER_IN_SERVE": "false", "CAURI_SECRET_KEY": "bench"}  # fmt: skip
        key = json.loads(subprocess.run([str(BIN / "cauri"), "apps", "create", "bench", "--rate-limit", "0", "--json"],
                                        env=env, capture_output=True, check=True).stdout)["secret_key"]  # fmt: skip
        subprocess.run([str(BIN / "cauri"), "webhooks", "add", "bench", receiver, "--json"], env=env, check=True,
                       capture_output=True)  # fmt: skip
        port = free_port()
        server = subprocess.Popen(
            [str(BIN / "cauri"), "serve", "--port", str(port)], env=env, stdout=subprocess.DEVNULL
        )
        worker: subprocess.Popen[bytes] | None = None
        try:
            if not wait_ready(port, server):
                raise SystemExit("cauri did not start")
            url = f"http://127.0.0.1:{port}"
            # 1. Throughput: a backlog written with no worker running, then one worker drains it.
            backlog = asyncio.run(create_payments(url, key, args.backlog, None))
            worker = subprocess.Popen([str(BIN / "cauri"), "worker"], env=env)
            if os.environ.get("BENCH_PROFILE"):
                time.sleep(1.5)
                subprocess.Popen(
                    [
                        str(BIN / "py-spy"),
                        "record",
                        "-p",
                        str(worker.pid),
                        "-d",
                        "4",
                        "-f",
                        "raw",
                        "-o",
                        os.environ["BENCH_PROFILE"],
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            wait_for(set(backlog), 300)
            drained = len(backlog.keys() & arrivals.keys())
            times = sorted(arrivals[i] for i in backlog if i in arrivals)
            started, finished = times[0], times[-1]
            # 2. Latency: payments at a steady rate while the worker runs.
            steady = asyncio.run(create_payments(url, key, int(args.rate * args.seconds), args.rate))
            wait_for(set(steady), 60)
        finally:
            for proc in (worker, server):
                if proc is not None:
                    proc.terminate()
                    proc.wait(10)
    delays = sorted((arrivals[i] - at) * 1000 for i, at in steady.items() if i in arrivals)
    print(f"backlog of {args.backlog}: {drained} delivered in {finished - started:.1f} s (first to last arrival) "
          f"= {drained / (finished - started):,.0f} deliveries/s with one worker")  # fmt: skip
    print(f"steady {args.rate:.0f} payments/s for {args.seconds:.0f} s: event -> webhook arrival "
          f"p50 {delays[len(delays) // 2]:.0f} ms, p99 {delays[int(len(delays) * 0.99) - 1]:.0f} ms "
          f"({len(delays)} of {len(steady)} arrived)")  # fmt: skip


if __name__ == "__main__":
    main()
