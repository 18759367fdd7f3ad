"""Handing payouts to connectors, on a fake unit of work: sent once, and what a provider's failure to answer
does to the payout."""

from __future__ import annotations

from datetime import timedelta

from cauri.connectors.base import PayoutRequest, ProviderUnavailable
from cauri.connectors.registry import ConnectorRegistry
from cauri.connectors.sandbox import SandboxConnector
from cauri.domain.apps import Scope
from cauri.domain.clock import utcnow
from cauri.domain.payout_request import validate_payout_request
from cauri.services import payouts
from cauri.services.idempotency import StoredResponse
from cauri.store.payouts import new_payout_row
from tests.api.test_payouts import payout_body
from tests.services.fakes import FakeUnitOfWork

#: Nothing listens there: the sandbox's notification, if any, is lost.
NOWHERE = "http://127.0.0.1:9"


class Unreachable(SandboxConnector):
    async def payout(self, request: PayoutRequest, callback_url: str) -> str:
        raise ProviderUnavailable("connection refused")


class Broken(SandboxConnector):
    async def payout(self, request: PayoutRequest, callback_url: str) -> str:
        raise TimeoutError("no answer after sending")


def initiated(uow: FakeUnitOfWork) -> str:
    request = validate_payout_request(payout_body(recipient={"msisdn": "4149518161"}), sandbox=True)
    payout = new_payout_row(request, Scope("app", "sandbox"), "sandbox", utcnow() - timedelta(minutes=5))
    uow.payouts.rows[payout["id"]] = payout
    return str(payout["id"])


async def test_initialize_records_then_hands_the_payout_over() -> None:
    uow = FakeUnitOfWork()
    request = validate_payout_request(payout_body(recipient={"msisdn": "4149518163"}), sandbox=True)
    stored = await payouts.initialize_payout(
        uow, ConnectorRegistry(SandboxConnector(b"k", 0)), Scope("app", "sandbox"), request,  # type: ignore[arg-type]
        lambda payout_id: StoredResponse(201, payout_id.encode()), None, NOWHERE,
    )  # fmt: skip
    [payout] = uow.payouts.rows.values()
    assert stored.body.decode() == payout["id"]
    assert payout["status"] == "pending" and payout["provider_reference"].startswith("sbx_")
    assert uow.events == [("payout.initiated", payout["id"])]


async def test_a_payout_is_handed_over_once() -> None:
    uow = FakeUnitOfWork()
    payout_id = initiated(uow)
    connectors = ConnectorRegistry(SandboxConnector(b"k", 0))
    assert await payouts.send_payout(uow, connectors, payout_id, NOWHERE)  # type: ignore[arg-type]
    assert not await payouts.send_payout(uow, connectors, payout_id, NOWHERE)  # type: ignore[arg-type]
    assert uow.payouts.rows[payout_id]["status"] == "pending"


async def test_an_unreachable_provider_fails_the_payout() -> None:
    uow = FakeUnitOfWork()
    payout_id = initiated(uow)
    assert await payouts.send_payout(uow, ConnectorRegistry(Unreachable(b"k", 0)), payout_id, NOWHERE)  # type: ignore[arg-type]
    payout = uow.payouts.rows[payout_id]
    assert (payout["status"], payout["failure_code"]) == ("failed", "provider_unavailable")
    assert payout["failure_message"] == "The payout provider could not be reached."
    assert uow.events == [("payout.failed", payout_id)]


async def test_any_other_error_leaves_it_pending_for_reconciliation() -> None:
    uow = FakeUnitOfWork()
    payout_id = initiated(uow)
    assert await payouts.send_payout(uow, ConnectorRegistry(Broken(b"k", 0)), payout_id, NOWHERE)  # type: ignore[arg-type]
    payout = uow.payouts.rows[payout_id]
    assert (payout["status"], payout["failure_code"], payout["provider_reference"]) == ("pending", None, None)
    assert uow.events == []
