"""A provider's notification at ``/connectors/{name}/callback``, whatever it is about. Most providers are told
a URL per kind of outcome; some (Paystack, FedaPay) post every event of an account to the one URL set in their
dashboard, so the connector reads what the notification is about (``Connector.parse_notification``) and it is
applied to the payment attempt, the payout or the refund it names, once, by that kind's own state machine."""

from __future__ import annotations

from collections.abc import Mapping

from cauri.connectors.base import CallbackRejected, Outcome, PayoutOutcome, RefundOutcome
from cauri.connectors.registry import ConnectorRegistry
from cauri.domain.errors import NotFound
from cauri.domain.text import storable
from cauri.services import checkout, payouts, refunds
from cauri.services.runtime import UnitOfWork


async def handle_notification(
    uow: UnitOfWork, connectors: ConnectorRegistry, name: str, body: bytes, headers: Mapping[str, str]
) -> bool:
    """Authenticated by the connector (``CallbackRejected`` otherwise), applied once; True when it changed
    something. ``NotFound`` for an unknown connector."""
    connector = await connectors.by_name(name)
    if connector is None:
        raise NotFound("Unknown connector.")
    await connector.prepare_callback(headers)  # what checking needs, fetched without blocking (pawaPay's keys)
    outcome = connector.parse_notification(body, headers)
    if isinstance(outcome, PayoutOutcome):
        _check(outcome.payout_id, outcome.failure_code, outcome.failure_message)
        return await payouts.apply_payout_outcome(uow, connector.name, outcome)
    if isinstance(outcome, RefundOutcome):
        _check(outcome.refund_id, outcome.failure_code, outcome.failure_message)
        return await refunds.apply_refund_outcome(uow, connector.name, outcome)
    if not isinstance(outcome, Outcome):
        raise CallbackRejected("malformed notification")
    _check(outcome.attempt_id, outcome.failure_code, outcome.failure_message)
    return await checkout.apply_outcome(uow, connector.name, outcome)


def _check(identifier: object, failure_code: object, failure_message: object) -> None:
    """Even a signed notification must fit the columns it is written to (see ``domain.text.storable``)."""
    if not storable(((identifier, 100), (failure_code, 64), (failure_message, 1000))):
        raise CallbackRejected("malformed notification")
