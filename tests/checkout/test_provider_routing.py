"""Live payments routed across a merchant's provider accounts, on both databases, against stub providers served
over real HTTP on loopback: failover before anything was sent, none after an ambiguous answer, the breakers, the
methods the live checkout offers, and the credentials kept out of the database and the logs."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from cauri.connectors.router import Breakers, BreakerState
from cauri.domain.attempts import AttemptStatus
from cauri.services import checkout
from cauri.services.runtime import Runtime
from cauri.settings import Settings
from cauri.store.tables import attempts, provider_accounts
from tests.conftest import MerchantApp, new_merchant, payment_body, runtime_of
from tests.providers_stub import StubProvider, sign, stub_providers

PHONE = "0197123456"  # a Benin number, as a live payment needs


@pytest.fixture
def stubs() -> Iterator[list[StubProvider]]:
    with stub_providers(2) as started:
        yield started


@pytest.fixture
async def live(engine: AsyncEngine) -> MerchantApp:
    return await new_merchant(engine, live=True)


@pytest.fixture
async def runtime(settings: Settings, engine: AsyncEngine) -> AsyncIterator[Runtime]:
    rt = runtime_of(settings, engine)
    yield rt
    await rt.connectors.close()


async def add_account(client: httpx.AsyncClient, merchant: MerchantApp, stub: StubProvider, label: str,
                      priority: int, key: str = "good-key", **extra: Any) -> str:  # fmt: skip
    body = {"provider": "stub", "label": label, "credentials": {"api_key": key}, "priority": priority,
            "base_url": stub.url, **extra}  # fmt: skip
    created = await client.post("/v1/providers", json=body, headers=merchant.headers)
    assert created.status_code == 201, created.text
    account_id: str = created.json()["data"]["id"]
    return account_id


async def live_payment(client: httpx.AsyncClient, merchant: MerchantApp, methods: list[str] | None = None) -> str:
    body = payment_body(currency="XOF", amount=5000, methods=methods or ["mtn_bj"])
    created = await client.post("/v1/payments/initialize", json=body, headers=merchant.headers)
    assert created.status_code == 201, created.text
    payment_id: str = created.json()["data"]["id"]
    return payment_id


async def pay(runtime: Runtime, payment_id: str, method: str = "mtn_bj") -> Any:
    state = await checkout.load_checkout(runtime.uow(), payment_id)
    assert state is not None
    checked = checkout.check_attempt_form(state, checkout.payment_methods(state, runtime.connectors),
                                          checkout.AttemptForm(method, phone=PHONE))  # fmt: skip
    payer = checkout.Payer("127.0.0.1", "test", "fr")
    return await checkout.start_attempt(runtime.uow(), runtime.connectors, state, checked, payer,
                                        lambda name: f"http://cauri.test/connectors/{name}/callback")  # fmt: skip


async def attempts_of(engine: AsyncEngine, payment_id: str) -> list[Any]:
    async with engine.connect() as conn:
        query = select(attempts).where(attempts.c.payment_id == payment_id).order_by(attempts.c.created_at)
        return list((await conn.execute(query)).all())


def notify(client: httpx.AsyncClient, account_id: str, key: str, attempt_id: str, status: str) -> Any:
    body = orjson.dumps({"attempt_id": attempt_id, "status": status})
    headers = {"x-stub-signature": sign(key, body)}
    return client.post(f"/connectors/{account_id}/callback", content=body, headers=headers)


async def test_a_provider_that_cannot_be_reached_fails_over_and_the_payment_is_paid_once(
    client: httpx.AsyncClient, engine: AsyncEngine, live: MerchantApp, runtime: Runtime, stubs: list[StubProvider]
) -> None:
    down, up = stubs
    down.mode = "unavailable"
    first = await add_account(client, live, down, "Down", priority=1)
    second = await add_account(client, live, up, "Up", priority=2)
    payment_id = await live_payment(client, live)

    assert await pay(runtime, payment_id) is checkout.ActionKind.CONFIRM_ON_PHONE
    assert down.calls == 1 and len(up.collected) == 1
    [attempt] = await attempts_of(engine, payment_id)
    assert attempt.connector == second and attempt.status == "pending"
    assert [(s["account"], s["label"], s["result"]) for s in attempt.routing] == [
        (first, "Down", "unavailable"),
        (second, "Up", "started"),
    ]
    assert attempt.routing[0]["reason"] == "ProviderUnavailable: 503 from the provider"

    # The account that said "unavailable" cannot settle the attempt; the one that took it can, once.
    refused = await notify(client, first, "good-key", attempt.id, "success")
    assert refused.json() == {"received": True, "applied": False}
    assert (await notify(client, second, "wrong-key", attempt.id, "success")).status_code == 400
    assert (await notify(client, second, "good-key", attempt.id, "success")).json()["applied"] is True
    assert (await notify(client, second, "good-key", attempt.id, "success")).json()["applied"] is False
    verified = (await client.get(f"/v1/payments/{payment_id}/verify", headers=live.headers)).json()["data"]
    assert verified["status"] == "success"
    gateway = verified["capture"]["gateway"]
    assert (gateway["id"], gateway["short_code"], gateway["account_name"]) == (second, "stub", "Up")
    assert gateway["transaction_id"] == f"ref-{attempt.id}"
    assert sum(len(s.collected) for s in stubs) == 1


async def test_no_failover_after_an_ambiguous_answer(
    client: httpx.AsyncClient, engine: AsyncEngine, live: MerchantApp, runtime: Runtime, stubs: list[StubProvider]
) -> None:
    slow, other = stubs
    slow.mode = "hang"  # it took the request, and its answer never comes in time
    first = await add_account(client, live, slow, "Slow", priority=1)
    await add_account(client, live, other, "Other", priority=2)
    payment_id = await live_payment(client, live)

    assert await pay(runtime, payment_id) is None
    assert len(slow.collected) == 1 and other.calls == 0
    [attempt] = await attempts_of(engine, payment_id)
    assert attempt.status == AttemptStatus.PENDING and attempt.connector == first
    assert [(s["account"], s["result"]) for s in attempt.routing] == [(first, "ambiguous")]
    # The provider's answer, when it comes, settles it.
    assert (await notify(client, first, "good-key", attempt.id, "success")).json()["applied"] is True


async def test_the_breaker_skips_a_failing_account_then_a_probe_closes_it(
    client: httpx.AsyncClient, engine: AsyncEngine, live: MerchantApp, runtime: Runtime, stubs: list[StubProvider]
) -> None:
    now = [0.0]
    runtime.connectors.breakers = Breakers(threshold=2, cooldown=60, clock=lambda: now[0])
    flaky, steady = stubs
    flaky.mode = "unavailable"
    first = await add_account(client, live, flaky, "Flaky", priority=1)
    await add_account(client, live, steady, "Steady", priority=2)

    for _ in range(2):
        assert await pay(runtime, await live_payment(client, live)) is not None
    assert runtime.connectors.breakers.state(first) is BreakerState.OPEN
    skipped = await live_payment(client, live)
    assert await pay(runtime, skipped) is not None
    assert flaky.calls == 2 and len(steady.collected) == 3
    [attempt] = await attempts_of(engine, skipped)
    step = attempt.routing[0]
    assert (step["account"], step["result"], step["reason"]) == (first, "skipped", "circuit open")

    now[0] += 61
    flaky.mode = "accept"
    probed = await live_payment(client, live)
    assert await pay(runtime, probed) is not None
    [attempt] = await attempts_of(engine, probed)
    assert attempt.connector == first and len(flaky.collected) == 1
    assert runtime.connectors.breakers.state(first) is BreakerState.CLOSED


async def test_every_account_unreachable_fails_the_attempt_and_the_customer_may_retry(
    client: httpx.AsyncClient, engine: AsyncEngine, live: MerchantApp, runtime: Runtime, stubs: list[StubProvider]
) -> None:
    for stub in stubs:
        stub.mode = "unavailable"
    await add_account(client, live, stubs[0], "One", priority=1)
    await add_account(client, live, stubs[1], "Two", priority=2)
    payment_id = await live_payment(client, live)
    assert await pay(runtime, payment_id) is None
    [attempt] = await attempts_of(engine, payment_id)
    assert attempt.status == "failed" and attempt.failure_code == "provider_unavailable"
    assert [s["result"] for s in attempt.routing] == ["unavailable", "unavailable"]
    stubs[1].mode = "accept"
    assert await pay(runtime, payment_id) is checkout.ActionKind.CONFIRM_ON_PHONE


async def test_the_live_checkout_offers_only_the_methods_enabled_accounts_serve(
    client: httpx.AsyncClient, live: MerchantApp, stubs: list[StubProvider]
) -> None:
    payment_id = await live_payment(client, live, ["mtn_bj", "moov_bj"])
    page = await client.get(f"/checkout/{payment_id}")
    assert 'value="mtn_bj"' not in page.text and 'value="moov_bj"' not in page.text
    account = await add_account(client, live, stubs[0], "Main", priority=1, methods=["moov_bj"])
    page = await client.get(f"/checkout/{payment_id}")
    assert 'value="moov_bj"' in page.text and 'value="mtn_bj"' not in page.text
    removed = await client.delete(f"/v1/providers/{account}", headers=live.headers)
    assert removed.status_code == 200
    page = await client.get(f"/checkout/{payment_id}")
    assert 'value="moov_bj"' not in page.text


async def test_sandbox_payments_keep_the_sandbox_connector(
    client: httpx.AsyncClient, engine: AsyncEngine, merchant: MerchantApp, runtime: Runtime
) -> None:
    created = await client.post("/v1/payments/initialize", json=payment_body(currency="XOF", methods=["mtn_bj"]),
                                headers=merchant.headers)  # fmt: skip
    payment_id = created.json()["data"]["id"]
    state = await checkout.load_checkout(runtime.uow(), payment_id)
    assert state is not None and [m.code for m in checkout.payment_methods(state, runtime.connectors)] == ["mtn_bj"]
    checked = checkout.check_attempt_form(state, checkout.payment_methods(state, runtime.connectors),
                                          checkout.AttemptForm("mtn_bj", phone="4149518161"))  # fmt: skip
    await checkout.start_attempt(runtime.uow(), runtime.connectors, state, checked,
                                 checkout.Payer("127.0.0.1", "t", "fr"), lambda n: "http://127.0.0.1:9/")  # fmt: skip
    [attempt] = await attempts_of(engine, payment_id)
    assert attempt.connector == "sandbox"


async def test_credentials_are_sealed_in_the_database_and_never_logged(
    client: httpx.AsyncClient, engine: AsyncEngine, live: MerchantApp, runtime: Runtime, settings: Settings,
    stubs: list[StubProvider], caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    secret = "sk_live_Zq8TkW3pXv9NcR4mLs7Y"
    caplog.set_level(logging.DEBUG)
    stubs[0].mode = "unavailable"
    first = await add_account(client, live, stubs[0], "First", priority=1, key=secret)
    listed = await client.get("/v1/providers", headers=live.headers)
    assert secret not in listed.text and "credentials" not in listed.json()["data"][0]
    await pay(runtime, await live_payment(client, live))  # fails over, logging the failure
    assert any(secret in h.get("authorization", "") for h in stubs[0].seen_headers), "the key was used"
    assert secret not in caplog.text and all(secret not in str(vars(r)) for r in caplog.records)  # extras too
    assert any(getattr(r, "connector", None) == first for r in caplog.records), "the failover was logged"

    async with engine.connect() as conn:
        rows = (await conn.execute(select(provider_accounts))).all()
    assert rows and all(secret.encode() not in bytes(r.credentials_encrypted) for r in rows)
    assert all(secret not in str(value) for r in rows for value in r)
    if settings.resolved_database_url.startswith("sqlite"):
        await engine.dispose()  # everything written to the file
        path = Path(settings.resolved_database_url.split("///", 1)[1])
        files = [f for f in path.parent.iterdir() if f.name.startswith(path.name)]  # the database, its WAL
        assert path in files and all(secret.encode() not in f.read_bytes() for f in files)
