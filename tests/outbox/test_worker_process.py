"""``cauri worker`` as a real process: killed with SIGKILL mid-flight and restarted, nothing is lost."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.cli.test_cli import cauri, serve, stop, wait_ready
from tests.conftest import Database, payment_body
from tests.outbox.conftest import Receiver, check_signatures


def worker(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "cauri", "worker"], env=env)


def test_a_killed_worker_loses_no_delivery(
    migrated: Database, receiver: Receiver, tmp_path: Path, env_without_cauri: dict[str, str]
) -> None:
    env = {
        **env_without_cauri,
        # On SQLite a database of its own under the data directory (the CLI migrates it), not the session's: a
        # write lock another test of this process left held made the CLI give up after 30 s.
        "CAURI_DATABASE_URL": migrated.url if migrated.kind == "postgresql" else "",
        "CAURI_DATA_DIR": str(tmp_path),
        "CAURI_SECRET_KEY": "worker-test",
        "CAURI_LOG_LEVEL": "warning",
        "CAURI_DISPATCHER_LEASE_SECONDS": "2",
        "CAURI_DISPATCHER_POLL_SECONDS": "0.1",
        "CAURI_WEBHOOK_RETRY_SCALE": "0.001",
        # On PostgreSQL the database is shared with the other tests of this process, whose gateways' jobs write to
        # it; on a loaded machine the gateway, the worker and the CLI may also wait on one another's writes longer
        # than the default 2 s.
        "CAURI_LOCK_TIMEOUT_MS": "30000",
    }
    created_app = cauri("apps", "create", "Killed", "--json", env=env)
    assert created_app.returncode == 0, created_app.stderr
    app = json.loads(created_app.stdout)
    added = cauri("webhooks", "add", "Killed", receiver.url, "--json", env=env)
    assert added.returncode == 0, added.stderr
    hook = json.loads(added.stdout)
    assert hook["secret"].startswith("whsec_")
    # The API server sends nothing itself here: only the workers do.
    proc, url = serve({**env, "CAURI_DISPATCHER_IN_SERVE": "false"})
    first = worker(env)
    try:
        wait_ready(url, proc)
        headers = {"Authorization": f"Bearer {app['secret_key']}"}
        ids = []
        for _ in range(40):
            created = httpx.post(f"{url}/v1/payments/initialize", json=payment_body(), headers=headers, timeout=10)
            ids.append(created.json()["data"]["id"])
            if len(receiver.received) >= 5:
                break
        os.kill(first.pid, signal.SIGKILL)  # mid-flight, without a chance to release its claims
        first.wait(10)
        for _ in range(40 - len(ids)):
            created = httpx.post(f"{url}/v1/payments/initialize", json=payment_body(), headers=headers, timeout=10)
            ids.append(created.json()["data"]["id"])
        second = worker(env)
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                delivered = {json.loads(body)["data"]["id"] for _, body in receiver.received}
                if delivered >= set(ids):
                    break
                time.sleep(0.2)
        finally:
            second.terminate()
            second.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
        stop(proc)
    delivered = {json.loads(body)["data"]["id"] for _, body in receiver.received}
    assert delivered == set(ids)
    for headers_seen, body in receiver.received:
        check_signatures(headers_seen, body, hook["secret"])
