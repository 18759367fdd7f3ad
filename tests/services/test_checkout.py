"""The checkout's operations on a fake unit of work: the rules, without a database."""

from __future__ import annotations

import pytest

from cauri.connectors.base import AttemptRequest, Outcome, ProviderUnavailable, Started
from cauri.connectors.registry import ConnectorRegistry
from cauri.connectors.sandbox import SandboxConnector
from cauri.domain.attempts import AttemptStatus
from cauri.domain.methods import CATALOGUE
from cauri.domain.payments import TransitionRefused
from cauri.services import checkout
from tests.services.fakes import FakeUnitOfWork

SUCCESS = AttemptStatus.SUCCESS
FAILED = AttemptStatus.FAILED


def paying() -> FakeUnitOfWork:
    uow = FakeUnitOfWork()
    uow.add_payment("py_1", status="pending")
    uow.add_attempt("att_1", "py_1")
    return uow


async def test_a_success_completes_the_payment_and_emits_one_event() -> None:
    uow = paying()
    assert await checkout.apply_outcome(uow, "sandbox", Outcome("att_1", SUCCESS))  # type: ignore[arg-type]
    assert uow.payments.rows["py_1"]["status"] == "success"
    assert uow.attempts.rows["att_1"]["status"] == "success"
    assert uow.events == [("payment.success", "py_1")]


async def test_a_repeated_notification_changes_nothing() -> None:
    uow = paying()
    assert await checkout.apply_outcome(uow, "sandbox", Outcome("att_1", SUCCESS))  # type: ignore[arg-type]
    assert not await checkout.apply_outcome(uow, "sandbox", Outcome("att_1", FAILED))  # type: ignore[arg-type]
    assert uow.events == [("payment.success", "py_1")]
    assert uow.commits == 1


async def test_a_connector_cannot_settle_another_connectors_attempt() -> None:
    uow = paying()
    assert not await checkout.apply_outcome(uow, "other", Outcome("att_1", SUCCESS))  # type: ignore[arg-type]
    assert uow.payments.rows["py_1"]["status"] == "pending"
    assert uow.attempts.rows["att_1"]["status"] == "pending"
    assert uow.events == []


async def test_a_failed_attempt_leaves_the_payment_open_and_is_announced() -> None:
    uow = paying()
    outcome = Outcome("att_1", FAILED, "declined", "Declined.")
    assert await checkout.apply_outcome(uow, "sandbox", outcome)  # type: ignore[arg-type]
    assert uow.payments.rows["py_1"]["status"] == "pending"
    assert uow.attempts.rows["att_1"]["failure_message"] == "Declined."
    assert uow.events == [("payment.failed", "py_1")]


async def test_an_ambiguous_start_learns_its_reference_from_the_outcome_even_for_the_wrong_amount() -> None:
    uow = paying()
    uow.add_payment("py_2", status="pending")
    uow.add_attempt("att_2", "py_2")
    outcome = Outcome("att_1", SUCCESS, amount=5000, currency="XOF", reference="dep-1")
    assert await checkout.apply_outcome(uow, "sandbox", outcome)  # type: ignore[arg-type]
    assert uow.attempts.rows["att_1"]["provider_reference"] == "dep-1"
    # A success for another amount fails the attempt, but the provider's transaction keeps its name (to refund).
    short = Outcome("att_2", SUCCESS, amount=4000, currency="XOF", reference="dep-2")
    assert await checkout.apply_outcome(uow, "sandbox", short)  # type: ignore[arg-type]
    failed = uow.attempts.rows["att_2"]
    assert (failed["status"], failed["failure_code"], failed["provider_reference"]) == ("failed", "amount_mismatch",
                                                                                       "dep-2")  # fmt: skip


async def test_no_outcome_yet_is_not_applied() -> None:
    uow = paying()
    assert not await checkout.apply_outcome(uow, "sandbox", Outcome("att_1", AttemptStatus.PENDING))  # type: ignore[arg-type]
    assert uow.commits == 0


async def test_cancelling_fails_the_attempt_under_way() -> None:
    uow = paying()
    await checkout.cancel_payment(uow, "py_1", "Cancelled by the customer.")  # type: ignore[arg-type]
    assert uow.payments.rows["py_1"]["status"] == "cancelled"
    assert uow.attempts.rows["att_1"]["failure_message"] == "Cancelled by the customer."
    assert uow.events == [("payment.cancelled", "py_1")]


async def test_a_final_payment_cannot_be_cancelled_and_nothing_is_written() -> None:
    uow = FakeUnitOfWork()
    uow.add_payment("py_1", status="success")
    with pytest.raises(TransitionRefused):
        await checkout.cancel_payment(uow, "py_1", "Cancelled by the customer.")  # type: ignore[arg-type]
    assert uow.commits == 0 and uow.events == []


class Failing(SandboxConnector):
    """A provider whose ``start`` raises ``error``."""

    def __init__(self, error: Exception) -> None:
        super().__init__(b"secret", 0)
        self.error = error
        self.asked: list[AttemptRequest] = []

    async def start(self, request: AttemptRequest, callback_url: str) -> Started:
        self.asked.append(request)
        raise self.error


async def start_with(error: Exception) -> FakeUnitOfWork:
    uow = FakeUnitOfWork()
    uow.add_payment("py_1")
    state = checkout.CheckoutState(await uow.payments.find("py_1"), None, None)  # type: ignore[arg-type]
    method = CATALOGUE.resolve_payment_method("mtn_bj")
    assert method is not None
    checked = checkout.CheckedAttempt(method, "22994149518161", None, None)
    payer = checkout.Payer("127.0.0.1", "test", "fr")

    def callback(name: str) -> str:
        return f"http://127.0.0.1:9/connectors/{name}/callback"

    failing = Failing(error)
    action = await checkout.start_attempt(uow, ConnectorRegistry(failing), state, checked, payer, callback)  # type: ignore[arg-type]
    assert action is None
    # The provider was told where to send the customer back (the public checkout page) and who pays.
    [asked] = failing.asked
    assert (asked.return_url, asked.customer_email) == ("http://cauri.test/checkout/py_1", "ama@example.com")
    return uow


async def test_an_unreachable_provider_fails_the_attempt_and_the_customer_may_try_again() -> None:
    uow = await start_with(ProviderUnavailable("connection refused"))
    [attempt] = uow.attempts.rows.values()
    assert attempt["status"] == "failed"
    assert attempt["failure_message"] == checkout.PROVIDER_UNREACHABLE
    assert uow.payments.rows["py_1"]["status"] == "pending"  # open for another try
    assert uow.events == [("payment.failed", "py_1")]
    total, pending = await uow.attempts.counts("py_1")
    assert (total, pending) == (1, 0)


async def test_an_ambiguous_provider_error_leaves_the_attempt_to_reconciliation() -> None:
    """A timeout after sending may hide an accepted payment: failing it would drop the provider's success."""
    uow = await start_with(TimeoutError("read timed out"))
    [attempt] = uow.attempts.rows.values()
    assert attempt["status"] == "pending"
    assert uow.payments.rows["py_1"]["status"] == "pending"
    assert uow.events == []


async def test_processing_needs_a_paid_payment() -> None:
    from cauri.domain.apps import App, KeyOwner
    from cauri.domain.clock import utcnow
    from cauri.domain.payments import Environment, ProcessRefused
    from cauri.services.idempotency import StoredResponse
    from cauri.services.payments import process_payment

    uow = FakeUnitOfWork()
    uow.add_payment("py_1", status="pending")
    now = utcnow()
    app = App("app", "Shop", None, None, True, 0, 10, None, None, True, True, False, now, now)
    owner = KeyOwner("key", app, Environment.SANDBOX, None)

    def render(view: dict[str, object]) -> StoredResponse:
        return StoredResponse(200, repr(view["is_processed"]).encode())

    with pytest.raises(ProcessRefused):
        await process_payment(uow, owner, "py_1", render, None)  # type: ignore[arg-type]
    uow.payments.rows["py_1"]["status"] = "success"
    assert (await process_payment(uow, owner, "py_1", render, None)).body == b"True"  # type: ignore[arg-type]
    assert uow.payments.rows["py_1"]["is_processed"] is True
