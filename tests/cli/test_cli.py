"""The ``cauri`` command, run as a merchant would run it: in its own process."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from cauri.app import create_app
from cauri.settings import Settings
from tests.conftest import Database, payment_body


def cauri(*args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cauri", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def env(env_without_cauri: dict[str, str], tmp_path: Path) -> dict[str, str]:
    return {**env_without_cauri, "CAURI_DATA_DIR": str(tmp_path / "data"), "CAURI_LOG_LEVEL": "warning"}


def test_apps_create_works_on_a_fresh_data_directory(env: dict[str, str], tmp_path: Path) -> None:
    created = cauri("apps", "create", "Boutique Awa", "--json", env=env)
    assert created.returncode == 0, created.stderr
    app = json.loads(created.stdout)
    assert set(app) == {"id", "name", "environment", "secret_key"}
    assert app["name"] == "Boutique Awa"
    assert app["environment"] == "sandbox"
    assert app["secret_key"].startswith("pvk_sandbox_")
    assert (tmp_path / "data" / "cauri.db").exists()
    assert app["secret_key"].encode() not in (tmp_path / "data" / "cauri.db").read_bytes()  # only its hash

    live = json.loads(cauri("apps", "create", "Boutique Live", "--live", "--json", env=env).stdout)
    assert live["environment"] == "live" and live["secret_key"].startswith("pvk_")

    listed = json.loads(cauri("apps", "list", "--json", env=env).stdout)
    assert [a["name"] for a in listed] == ["Boutique Awa", "Boutique Live"]
    assert listed[0]["keys"][0]["prefix"] == app["secret_key"].split("|")[0]

    rotated = cauri("keys", "rotate", "Boutique Awa", "--json", "--grace-hours", "0", env=env)
    assert rotated.returncode == 0, rotated.stderr
    assert json.loads(rotated.stdout)["secret_key"] != app["secret_key"]

    missing = cauri("keys", "rotate", "No Such App", env=env)
    assert missing.returncode == 1
    assert "No app" in missing.stderr


def test_migrate_is_repeatable(env: dict[str, str]) -> None:
    for _ in range(2):
        result = cauri("migrate", env=env)
        assert result.returncode == 0, result.stderr
        assert "up to date" in result.stderr


def wait_ready(url: str, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited: {proc.stderr.read() if proc.stderr else ''}")
        try:
            if httpx.get(url + "/utils/payment/methods", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("server did not start")


def serve(env: dict[str, str], extra: dict[str, str] | None = None) -> tuple[subprocess.Popen[str], str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "cauri", "serve", "--port", str(port)],
        env={**env, **(extra or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return proc, f"http://127.0.0.1:{port}"


def stop(*procs: subprocess.Popen[str]) -> None:
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_serve_with_no_configuration_creates_a_sandbox_app_and_prints_its_key(env: dict[str, str]) -> None:
    proc, url = serve(env)
    try:
        assert proc.stdout is not None
        key = proc.stdout.readline().strip()
        assert key.startswith("pvk_sandbox_"), key
        wait_ready(url, proc)
        headers = {"Authorization": f"Bearer {key}"}
        created = httpx.post(url + "/v1/payments/initialize", json=payment_body(), headers=headers, timeout=10)
        assert created.status_code == 201, created.text
        assert created.json()["data"]["checkout_url"].startswith(url + "/checkout/py_")
        assert httpx.get(url + "/docs", timeout=5).status_code == 200
    finally:
        stop(proc)
    # A second start finds the app and creates no other.
    proc, url = serve(env)
    try:
        wait_ready(url, proc)
    finally:
        stop(proc)
    assert proc.stdout is not None and "pvk_" not in proc.stdout.read()


def test_two_servers_on_one_database_behave_as_one(env: dict[str, str], migrated: Database) -> None:
    shared = {**env, "CAURI_DATABASE_URL": migrated.url}
    app = json.loads(cauri("apps", "create", "Twin", "--json", env=shared).stdout)
    headers = {"Authorization": f"Bearer {app['secret_key']}", "Idempotency-Key": "twin-1"}
    (one, url_one), (two, url_two) = serve(shared), serve(shared)
    try:
        wait_ready(url_one, one)
        wait_ready(url_two, two)
        created = httpx.post(url_one + "/v1/payments/initialize", json=payment_body(), headers=headers, timeout=10)
        assert created.status_code == 201, created.text
        payment_id = created.json()["data"]["id"]
        replay = httpx.post(url_two + "/v1/payments/initialize", json=payment_body(), headers=headers, timeout=10)
        assert replay.json()["data"]["id"] == payment_id
        fetched = httpx.get(f"{url_two}/v1/payments/{payment_id}/verify", headers=headers, timeout=10)
        assert fetched.status_code == 200
        assert fetched.json()["data"]["id"] == payment_id
    finally:
        stop(one, two)


async def test_payouts_list_and_show(env: dict[str, str], tmp_path: Path) -> None:
    app = json.loads(cauri("apps", "create", "Boutique Awa", "--json", env=env).stdout)
    gateway = create_app(Settings(data_dir=tmp_path / "data", public_url="http://cauri.test"))
    body = {"amount": 500, "currency": "XOF", "description": "Refund [bold red]now[/bold red]", "method": "mtn_bj",
            "customer": {"email": "a@example.com", "first_name": "A", "last_name": "B"},
            "recipient": {"msisdn": "4149518163"}}  # fmt: skip
    headers = {"Authorization": f"Bearer {app['secret_key']}"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=gateway), base_url="http://cauri.test") as api:
        created = await api.post("/v1/payouts/initialize", json=body, headers=headers)
    payout_id = created.json()["data"]["id"]

    wide = {**env, "COLUMNS": "250"}
    listed = cauri("payouts", "list", "Boutique Awa", env=wide)
    assert listed.returncode == 0, listed.stderr
    assert payout_id in listed.stdout and "pending" in listed.stdout
    assert "Refund [bold red]now[/bold red]" in listed.stdout  # merchant text shown as typed, not as markup
    as_json = json.loads(cauri("payouts", "list", "Boutique Awa", "--json", "--status", "pending", env=env).stdout)
    assert [p["id"] for p in as_json] == [payout_id]
    assert json.loads(cauri("payouts", "list", "Boutique Awa", "--json", "--live", env=env).stdout) == []
    assert cauri("payouts", "list", "Boutique Awa", "--status", "cancelled", env=env).returncode == 2

    shown = cauri("payouts", "show", "Boutique Awa", payout_id, env=env)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["disburse"]["recipient"] == {"msisdn": "4149518163"}
    missing = cauri("payouts", "show", "Boutique Awa", "po_nothing", env=env)
    assert missing.returncode == 1 and "Payout transaction not found." in missing.stderr

    # The payout is set aside from the sandbox's balance (its credit covers it).
    balances = json.loads(cauri("balances", "Boutique Awa", "--json", env=env).stdout)
    assert balances == [{"currency": "XOF", "collected": 0, "refunded": 0, "paid_out": 500, "available": -500}]
    table = cauri("balances", "Boutique Awa", env=wide)
    assert table.returncode == 0 and "XOF" in table.stdout and "-500" in table.stdout
    assert json.loads(cauri("balances", "Boutique Awa", "--live", "--json", env=env).stdout) == []
