"""Failover between a merchant's provider accounts with the real connectors, against their simulators over
loopback HTTP, on both databases: a live app with two accounts for one method in routing order, paid through the
gateway's API and checkout. An account that cannot take the attempt (unreachable, failing before accepting, or
refusing the request) hands it to the next, which alone collects; an ambiguous answer is never failed over, and
reconciliation settles it with the account that has it; refusals of the request do not open an account's
circuit breaker, while unavailability does."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from cauri.app import create_app
from cauri.connectors import registry as connector_registry
from cauri.connectors.pawapay import transaction_id
from cauri.connectors.registry import ConnectorRegistry
from cauri.connectors.router import Breakers, BreakerState
from cauri.domain.apps import Scope
from cauri.domain.payments import Environment
from cauri.services.checkout import reconcile
from cauri.services.providers import add_account, check_account
from cauri.settings import Settings
from cauri.store.tables import attempts, events
from tests.conftest import MerchantApp, new_merchant, payment_body, runtime_of, serving, uow
from tests.providers.accounts import PATIENT_LOCKS
from tests.providers.pawapay_simulator import PawapaySimulator
from tests.providers.test_fedapay import SECRET_KEY as FEDAPAY_KEY
from tests.providers.test_fedapay import (
    WEBHOOK_SECRET,
    Fedapay,
    fedapay_sim,  # noqa: F401 - the FedaPay simulator fixture, shared
)
from tests.providers.test_pawapay import TOKEN, free_port, settled, status_when

#: Numbers the simulators complete: pawaPay's documented Benin success, FedaPay's simulator's approval
#: (its last eight digits), in Benin and in Côte d'Ivoire.
PAWAPAY_COMPLETES = "0151345789"
FEDAPAY_APPROVES_BJ = "0166000001"
FEDAPAY_APPROVES_CI = "0566000001"


# -- the live gateway and its accounts --------------------------------------------------------------------------


@dataclass
class Live:
    url: str
    merchant: MerchantApp
    settings: Settings
    #: The served app: its runtime's registry holds the breakers routing consults.
    app: Any

    @property
    def breakers(self) -> Breakers:
        breakers: Breakers = self.app.state.gateway.runtime.connectors.breakers
        return breakers


@dataclass
class Served:
    sim: PawapaySimulator
    url: str


@pytest.fixture
async def live(settings: Settings, engine: AsyncEngine) -> AsyncIterator[Live]:
    """A live gateway, served on loopback, and a live app with no account yet (each test stores its own)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    live_settings = settings.model_copy(update={"public_url": url, "log_level": "warning",
                                                "reconcile_every_seconds": 3600.0, **PATIENT_LOCKS})  # fmt: skip
    merchant = await new_merchant(engine, live=True)
    app = create_app(live_settings)
    with serving(app, port):
        yield Live(url, merchant, live_settings, app)


@pytest.fixture
def pawapays() -> Iterator[list[Served]]:
    """Two pawaPay simulators (two merchant accounts at pawaPay), each on its own loopback port."""
    first, second = PawapaySimulator(token=TOKEN), PawapaySimulator(token=TOKEN)
    with serving(first.app, free_port()) as first_url, serving(second.app, free_port()) as second_url:
        yield [Served(first, first_url), Served(second, second_url)]


async def store(live: Live, engine: AsyncEngine, provider: str, credentials: dict[str, str], base_url: str,
                label: str, priority: int, methods: list[str]) -> str:  # fmt: skip
    """Store a live account as the API and the CLI do (``tests.providers.accounts`` names every account of a
    provider alike, and two pawaPay accounts need two labels and a routing order); its id."""
    body = {"provider": provider, "label": label, "credentials": credentials, "sandbox": True,
            "base_url": base_url, "priority": priority, "methods": methods}  # fmt: skip
    env = Environment.LIVE.value
    summary = await add_account(uow(engine), Scope(live.merchant.id, env), check_account(body, env),
                                live.settings.secret)  # fmt: skip
    return summary["id"]


async def add_pawapay(live: Live, engine: AsyncEngine, base_url: str, label: str, priority: int,
                      sim: PawapaySimulator | None = None, methods: tuple[str, ...] = ("mtn_bj",)) -> str:  # fmt: skip
    account_id = await store(live, engine, "pawapay", {"api_token": TOKEN}, base_url, label, priority, [*methods])
    if sim is not None:  # callbacks are configured in pawaPay's dashboard, per account
        sim.callback_urls = {"deposit": f"{live.url}/connectors/{account_id}/callback"}
    return account_id


async def add_fedapay(live: Live, engine: AsyncEngine, fedapay: Fedapay, label: str, priority: int,
                      methods: tuple[str, ...]) -> str:  # fmt: skip
    credentials = {"secret_key": FEDAPAY_KEY, "webhook_secret": WEBHOOK_SECRET}
    account_id = await store(live, engine, "fedapay", credentials, fedapay.url, label, priority, [*methods])
    fedapay.simulator.webhook_url = f"{live.url}/connectors/{account_id}/callback"
    return account_id


def closed_port_url() -> str:
    """An API root nothing listens at: a loopback port bound, then closed (connection refused)."""
    return f"http://127.0.0.1:{free_port()}"


# -- paying and reading ---------------------------------------------------------------------------------------


async def pay(live: Live, client: httpx.AsyncClient, method: str, phone: str) -> str:
    """A customer pays a new live payment on the checkout page with ``method``; the payment's id."""
    body = payment_body(currency="XOF", amount=1500, methods=[method])
    created = await client.post("/v1/payments/initialize", json=body, headers=live.merchant.headers)
    assert created.status_code == 201, created.text
    payment_id: str = created.json()["data"]["id"]
    page = await client.get(f"/checkout/{payment_id}")
    assert page.status_code == 200 and f'value="{method}"' in page.text
    csrf = page.text.split('name="csrf" value="')[1].split('"')[0]
    chosen = await client.post(f"/checkout/{payment_id}/pay", data={"csrf": csrf, "method": method, "phone": phone})
    assert chosen.status_code == 303, chosen.text
    return payment_id


async def only_attempt(engine: AsyncEngine, payment_id: str) -> Any:
    async with engine.connect() as conn:
        rows = (await conn.execute(select(attempts).where(attempts.c.payment_id == payment_id))).all()
    assert len(rows) == 1, rows
    return rows[0]


def steps(attempt: Any) -> list[tuple[Any, ...]]:
    return [(s["account"], s["provider"], s["label"], s["result"]) for s in attempt.routing]


async def successes(engine: AsyncEngine, payment_id: str) -> int:
    query = select(func.count()).select_from(events).where(events.c.payment_id == payment_id,
                                                           events.c.type == "payment.success")  # fmt: skip
    async with engine.connect() as conn:
        return int((await conn.execute(query)).scalar_one())


async def verified_gateway(live: Live, client: httpx.AsyncClient, payment_id: str) -> dict[str, Any]:
    answer = await client.get(f"/v1/payments/{payment_id}/verify", headers=live.merchant.headers)
    data = answer.json()["data"]
    assert data["status"] == "success", data
    gateway: dict[str, Any] = data["capture"]["gateway"]
    return gateway


def deposits(servers: list[Served]) -> list[int]:
    return [len(s.sim.records["deposit"]) for s in servers]


# -- 1. pawaPay to pawaPay ----------------------------------------------------------------------------------


@pytest.mark.parametrize("failure", ["unreachable", "5xx"])
async def test_a_failing_pawapay_account_hands_the_attempt_to_the_next_which_alone_collects(
    live: Live, engine: AsyncEngine, pawapays: list[Served], failure: str
) -> None:
    down, up = pawapays
    if failure == "unreachable":
        first = await add_pawapay(live, engine, closed_port_url(), "Main pawaPay", priority=1)
        reason = "ProviderUnavailable: pawaPay could not be reached"
    else:
        down.sim.knobs.fail_next = 2  # every initiation try answers 500; pawaPay's record then says NOT_FOUND
        first = await add_pawapay(live, engine, down.url, "Main pawaPay", priority=1, sim=down.sim)
        reason = "ProviderUnavailable: pawaPay failed before accepting"
    second = await add_pawapay(live, engine, up.url, "Backup pawaPay", priority=2, sim=up.sim)

    async with httpx.AsyncClient(base_url=live.url, timeout=10) as client:
        payment_id = await pay(live, client, "mtn_bj", PAWAPAY_COMPLETES)
        assert await status_when(engine, payment_id, "success") == "success"
        gateway = await verified_gateway(live, client, payment_id)

    attempt = await only_attempt(engine, payment_id)
    assert deposits(pawapays) == [0, 1]  # exactly one deposit, at the healthy account
    (deposit,) = up.sim.records["deposit"].values()
    assert deposit["depositId"] == transaction_id(second, attempt.id) and deposit["status"] == "COMPLETED"
    if failure == "5xx":
        tried = [r for r in down.sim.seen_requests if r[0] == "POST"]
        assert tried == [("POST", "/v2/deposits")] * 2  # both tries with the same depositId, neither taken
    assert attempt.connector == second and attempt.status == "success"
    assert steps(attempt) == [(first, "pawapay", "Main pawaPay", "unavailable"),
                              (second, "pawapay", "Backup pawaPay", "started")]  # fmt: skip
    assert attempt.routing[0]["reason"] == reason
    assert (gateway["id"], gateway["short_code"], gateway["account_name"]) == (second, "pawapay", "Backup pawaPay")
    assert gateway["name"] == "pawaPay" and gateway["transaction_id"] == deposit["depositId"]
    assert gateway["transaction_status"] == "success"
    assert await successes(engine, payment_id) == 1
    # One failure is not enough to take the first account out of routing.
    assert live.breakers.state(first) is BreakerState.CLOSED


# -- 2. pawaPay to FedaPay ----------------------------------------------------------------------------------


async def test_an_unavailable_pawapay_account_hands_the_attempt_to_fedapay(
    live: Live,
    engine: AsyncEngine,
    pawapays: list[Served],
    fedapay_sim: Fedapay,  # noqa: F811
) -> None:
    down = pawapays[0]
    down.sim.knobs.fail_next = 2
    first = await add_pawapay(live, engine, down.url, "pawaPay", priority=1, sim=down.sim, methods=("mtn_bj",))
    second = await add_fedapay(live, engine, fedapay_sim, "FedaPay", priority=2, methods=("mtn_bj",))

    async with httpx.AsyncClient(base_url=live.url, timeout=10) as client:
        payment_id = await pay(live, client, "mtn_bj", FEDAPAY_APPROVES_BJ)
        assert await status_when(engine, payment_id, "success") == "success"
        gateway = await verified_gateway(live, client, payment_id)

    attempt = await only_attempt(engine, payment_id)
    assert deposits([down]) == [0]
    (transaction,) = fedapay_sim.simulator.transactions.values()
    assert transaction["status"] == "approved" and transaction["merchant_reference"] == attempt.id
    assert attempt.connector == second
    assert steps(attempt) == [(first, "pawapay", "pawaPay", "unavailable"), (second, "fedapay", "FedaPay", "started")]
    assert (gateway["id"], gateway["short_code"], gateway["account_name"]) == (second, "fedapay", "FedaPay")
    assert gateway["name"] == "FedaPay" and gateway["transaction_id"] == str(transaction["id"])
    assert await successes(engine, payment_id) == 1


# -- 3. no failover after an ambiguous answer ---------------------------------------------------------------


@dataclass
class Ambiguous:
    payment_id: str
    attempt_id: str
    first: str
    gateway: dict[str, Any]


async def ambiguous_then_reconciled(live: Live, engine: AsyncEngine, pawapays: list[Served]) -> Ambiguous:
    """The first account's pawaPay records the deposit, then answers late, twice (the retry with the same
    depositId too): whether it took the money, only its record can say. The attempt must stay with it, and the
    reconciliation job settle it; nothing may reach the second account."""
    slow, other = pawapays
    slow.sim.knobs.slow_next, slow.sim.knobs.slow_seconds = 2, 1.5
    slow.sim.knobs.callbacks = False  # the outcome is learnt by polling only
    first = await add_pawapay(live, engine, slow.url, "Slow pawaPay", priority=1, sim=slow.sim)
    await add_pawapay(live, engine, other.url, "Other pawaPay", priority=2, sim=other.sim)

    async with httpx.AsyncClient(base_url=live.url, timeout=15) as client:
        payment_id = await pay(live, client, "mtn_bj", PAWAPAY_COMPLETES)
        attempt = await only_attempt(engine, payment_id)
        assert attempt.connector == first and attempt.status == "pending"
        assert steps(attempt) == [(first, "pawapay", "Slow pawaPay", "ambiguous")]
        assert attempt.routing[0]["reason"] == "PawapayUncertain: ReadTimeout after sending"
        assert deposits(pawapays) == [1, 0]  # the first has it; nothing went to the second
        assert await status_when(engine, payment_id, "success", within=0.3) == "pending"

        await settled(slow.sim, "deposit", transaction_id(first, attempt.id))
        registry: ConnectorRegistry = runtime_of(live.settings, engine).connectors
        try:
            applied = await reconcile(uow(engine), registry, older_than=timedelta(0), lease=timedelta(seconds=60))
        finally:
            await registry.close()
        assert applied >= 1  # ours, and maybe other tests' attempts in this database
        assert await status_when(engine, payment_id, "success") == "success"
        gateway = await verified_gateway(live, client, payment_id)
    assert deposits(pawapays) == [1, 0] and other.sim.seen_requests == []
    return Ambiguous(payment_id, attempt.id, first, gateway)


@pytest.fixture
def short_provider_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    """The gateway waits 1 s for a provider's answer (20 s in production), so a lost answer is quick to lose."""
    monkeypatch.setattr(connector_registry, "PROVIDER_TIMEOUT", httpx.Timeout(1.0, connect=1.0))


@pytest.mark.usefixtures("short_provider_timeout")
async def test_an_ambiguous_answer_is_not_failed_over_and_reconciliation_settles_it_once(
    live: Live, engine: AsyncEngine, pawapays: list[Served]
) -> None:
    settled_once = await ambiguous_then_reconciled(live, engine, pawapays)
    gateway = settled_once.gateway
    assert (gateway["id"], gateway["short_code"], gateway["account_name"]) == (
        settled_once.first,
        "pawapay",
        "Slow pawaPay",
    )
    assert gateway["transaction_status"] == "success"
    assert (await only_attempt(engine, settled_once.payment_id)).connector == settled_once.first
    assert await successes(engine, settled_once.payment_id) == 1
    (deposit,) = pawapays[0].sim.records["deposit"].values()
    assert deposit["depositId"] == transaction_id(settled_once.first, settled_once.attempt_id)
    assert deposit["status"] == "COMPLETED"


@pytest.mark.usefixtures("short_provider_timeout")
async def test_a_payment_reconciled_after_an_ambiguous_start_names_the_providers_transaction(
    live: Live, engine: AsyncEngine, pawapays: list[Served]
) -> None:
    settled_once = await ambiguous_then_reconciled(live, engine, pawapays)
    expected = transaction_id(settled_once.first, settled_once.attempt_id)
    assert settled_once.gateway["transaction_id"] == expected


# -- 4. refusals fail over, and do not open the breaker ----------------------------------------------------


async def test_refusals_fail_over_without_opening_the_refusing_accounts_breaker(
    live: Live,
    engine: AsyncEngine,
    pawapays: list[Served],
    fedapay_sim: Fedapay,  # noqa: F811
) -> None:
    # The simulated pawaPay account has no MTN Côte d'Ivoire (MTN_MOMO_CIV) among its providers: pawaPay answers
    # REJECTED, INVALID_PROVIDER, to every such deposit. It is up; only the request is refused.
    refusing = pawapays[0]
    first = await add_pawapay(live, engine, refusing.url, "pawaPay", priority=1, sim=refusing.sim, methods=("mtn_ci",))
    second = await add_fedapay(live, engine, fedapay_sim, "FedaPay CI", priority=2, methods=("mtn_ci",))
    rounds = live.breakers.threshold + 2

    async with httpx.AsyncClient(base_url=live.url, timeout=10) as client:
        for n in range(rounds):
            payment_id = await pay(live, client, "mtn_ci", FEDAPAY_APPROVES_CI)
            assert await status_when(engine, payment_id, "success") == "success", n
            attempt = await only_attempt(engine, payment_id)
            assert steps(attempt) == [
                (first, "pawapay", "pawaPay", "refused"),
                (second, "fedapay", "FedaPay CI", "started"),
            ], n  # never "skipped"
            assert attempt.routing[0]["reason"] == "InitiationRefused: INVALID_PROVIDER"
            gateway = await verified_gateway(live, client, payment_id)
            assert (gateway["id"], gateway["short_code"], gateway["account_name"]) == (second, "fedapay", "FedaPay CI")
            assert await successes(engine, payment_id) == 1
            assert live.breakers.state(first) is BreakerState.CLOSED, n

    assert deposits([refusing]) == [0]
    posted = [r for r in refusing.sim.seen_requests if r == ("POST", "/v2/deposits")]
    assert len(posted) == rounds  # every payment asked pawaPay first, and was refused
    assert len(fedapay_sim.simulator.transactions) == rounds
    assert all(t["status"] == "approved" for t in fedapay_sim.simulator.transactions.values())


async def test_unavailability_opens_the_breaker_then_a_probe_closes_it(
    live: Live, engine: AsyncEngine, pawapays: list[Served]
) -> None:
    """The contrast with refusals: the same number of failures before accepting opens the account's breaker, the
    next payment skips it, and after the cool-down one probe that starts closes it again."""
    now = [0.0]
    live.app.state.gateway.runtime.connectors.breakers = Breakers(threshold=3, cooldown=60, clock=lambda: now[0])
    flaky, steady = pawapays
    flaky.sim.knobs.fail_next = 2 * 3  # three payments' worth of 500s (two tries each)
    first = await add_pawapay(live, engine, flaky.url, "Flaky", priority=1, sim=flaky.sim)
    second = await add_pawapay(live, engine, steady.url, "Steady", priority=2, sim=steady.sim)

    async with httpx.AsyncClient(base_url=live.url, timeout=10) as client:
        for _ in range(3):
            paid = await pay(live, client, "mtn_bj", PAWAPAY_COMPLETES)
            assert [s[3] for s in steps(await only_attempt(engine, paid))] == ["unavailable", "started"]
        assert live.breakers.state(first) is BreakerState.OPEN
        skipped = await pay(live, client, "mtn_bj", PAWAPAY_COMPLETES)
        attempt = await only_attempt(engine, skipped)
        assert steps(attempt) == [(first, "pawapay", "Flaky", "skipped"), (second, "pawapay", "Steady", "started")]
        assert attempt.routing[0]["reason"] == "circuit open"
        assert deposits(pawapays) == [0, 4]

        now[0] += 61
        probed = await pay(live, client, "mtn_bj", PAWAPAY_COMPLETES)
        assert await status_when(engine, probed, "success") == "success"
        assert steps(await only_attempt(engine, probed)) == [(first, "pawapay", "Flaky", "started")]
        assert live.breakers.state(first) is BreakerState.CLOSED
        assert (await verified_gateway(live, client, probed))["id"] == first
    assert deposits(pawapays) == [1, 4]
