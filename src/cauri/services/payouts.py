"""Payouts: initialize (and hand to the connector), verify, list, apply a provider's outcome, reconcile.

Every change of status goes through the payout's state machine (``payouts.move``, a compare-and-set) with its
event in the same transaction. A payout is handed to its connector only by the caller that moved it from
``initiated`` to ``pending``, so it is sent once, however many requests, replays or workers meet it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from cauri.connectors.base import CallbackRejected, PayoutOutcome, PayoutRequest
from cauri.connectors.registry import ConnectorRegistry
from cauri.connectors.router import nothing_sent
from cauri.domain.apps import App, Scope
from cauri.domain.clock import utcnow
from cauri.domain.errors import FieldErrors, NotFound, ValidationFailed
from cauri.domain.methods import CATALOGUE
from cauri.domain.payments import PaymentFilter
from cauri.domain.payout_representation import Payout
from cauri.domain.payout_request import PayoutRequest as ValidPayoutRequest
from cauri.domain.payouts import PAYOUT_NOT_FOUND, PayoutStatus
from cauri.domain.text import storable
from cauri.services import providers
from cauri.services.callbacks import CallbackBase, as_callback_base
from cauri.services.idempotency import IdempotencyKey, StoredResponse, run_once
from cauri.services.runtime import UnitOfWork
from cauri.store.payouts import new_payout_row

__all__ = [
    "PAYOUT_NOT_FOUND",
    "CallbackRejected",
    "PayoutPage",
    "handle_payout_callback",
    "initialize_payout",
    "list_payouts",
    "reconcile_payouts",
    "verify_payout",
]

log = logging.getLogger("cauri.payouts")
#: The failure a payout gets when its provider could not be reached at all (nothing was sent).
PROVIDER_UNREACHABLE = "The payout provider could not be reached."


def payout_callback_url(base: CallbackBase | str, connector: str) -> str:
    """Where a connector's payout notifications arrive (its root: see ``services.callbacks``)."""
    return as_callback_base(base).payout(connector)


async def initialize_payout(
    uow: UnitOfWork,
    connectors: ConnectorRegistry,
    scope: Scope,
    request: ValidPayoutRequest,
    render: Callable[[str], StoredResponse],
    idempotency: IdempotencyKey | None,
    callback_base: CallbackBase | str,
) -> StoredResponse:
    """Create the payout and its ``payout.initiated`` event (answering ``render(id)``), then hand it to its
    connector. With an idempotency key, an identical earlier request's answer is replayed and nothing is sent
    again. Refused (422 on ``method``) when no connector pays out with the method in this environment."""
    method = CATALOGUE.payout_methods[request.method]
    candidates = await providers.payout_candidates(uow, connectors, scope, method.code)
    if not candidates:
        errors = FieldErrors()
        where = f"in the {scope.environment} environment"
        errors.add("method", f"No provider is set up to pay out with {method.code} {where}.")
        raise ValidationFailed(errors)
    row = new_payout_row(request, scope, candidates[0].connector.name, utcnow())

    async def work(tx: UnitOfWork) -> StoredResponse:
        await tx.payouts.add(row)
        return render(row["id"])

    stored = await run_once(uow, scope, idempotency, work)
    if not stored.replayed:
        await send_payout(uow, connectors, row["id"], callback_base)
    return stored


async def send_payout(
    uow: UnitOfWork, connectors: ConnectorRegistry, payout_id: str, callback_base: CallbackBase | str
) -> bool:
    """Move an initiated payout to pending and hand it to the first of the app's accounts paying out with its
    method that takes it (``providers.payout_candidates``, from the one the payout names); False when another
    caller did (or it is no longer initiated). As for payments (``connectors.router``), a provider that cannot
    have received it (``ProviderUnavailable``, no connection, a 503) passes it to the next account, and when none
    takes it the payout fails; any other error leaves it pending with that account, since the provider may have
    received it: the reconciliation job asks. Paying out twice is worse than failing."""
    async with uow:
        row = await uow.payouts.move(payout_id, PayoutStatus.PENDING)
        await uow.commit()
    if row is None:
        return False
    method = CATALOGUE.payout_methods.get(row.method)
    if method is None:
        log.error("payout with an unknown method; left to reconciliation", extra={"payout_id": payout_id})
        return True
    candidates = await providers.payout_candidates(uow, connectors, Scope(row.app_id, row.environment), method.code)
    # The account the payout was created for first (a payout resent by the reconciliation job keeps its account).
    candidates.sort(key=lambda c: c.connector.name != row.connector)
    request = PayoutRequest(row.id, method, row.amount, row.currency, dict(row.recipient))
    holder: str = row.connector
    for candidate in candidates:
        name = candidate.connector.name
        if not connectors.breakers.admit(name):
            continue
        if name != holder:
            async with uow:
                moved = await uow.payouts.hand_over(payout_id, holder, name)
                await uow.commit()
            if not moved:
                connectors.breakers.released(name)
                return True  # ended meanwhile
            holder = name
        try:
            reference = await candidate.connector.payout(request, payout_callback_url(callback_base, name))
        except Exception as exc:
            connectors.breakers.failed_with(name, exc)
            if nothing_sent(exc):
                log.warning("payout provider unavailable; trying the next account",
                            extra={"payout_id": payout_id, "connector": name})  # fmt: skip
                continue
            log.exception("connector payout failed; left to reconciliation",
                          extra={"payout_id": payout_id, "connector": name})  # fmt: skip
            return True
        connectors.breakers.succeeded(name)
        async with uow:
            await uow.payouts.record_reference(payout_id, reference)
            await uow.commit()
        return True
    # Nothing was sent anywhere (every account unreachable, or none pays out with it any more): the payout fails.
    log.warning("no payout provider could be reached", extra={"payout_id": payout_id, "connector": holder})
    outcome = PayoutOutcome(payout_id, PayoutStatus.FAILED, "provider_unavailable", PROVIDER_UNREACHABLE)
    await apply_payout_outcome(uow, holder, outcome)
    return True


async def apply_payout_outcome(uow: UnitOfWork, connector: str, outcome: PayoutOutcome) -> bool:
    """End a pending payout of ``connector`` once, with its event; False when nothing changed (a repeated or
    late notification, another connector's payout, or no final outcome yet)."""
    if outcome.status not in (PayoutStatus.SUCCESS, PayoutStatus.FAILED):
        return False
    async with uow:
        moved = await uow.payouts.move(
            outcome.payout_id,
            outcome.status,
            connector=connector,
            failure_code=outcome.failure_code,
            failure_message=outcome.failure_message,
        )
        if moved is None:
            return False
        await uow.commit()
    return True


async def handle_payout_callback(
    uow: UnitOfWork, connectors: ConnectorRegistry, name: str, body: bytes, headers: Mapping[str, str]
) -> bool:
    """A provider's payout notification: authenticated by its connector (``CallbackRejected`` otherwise),
    applied once. ``NotFound`` for a connector unknown or that does not pay out."""
    connector = await connectors.by_name(name)
    if connector is None:
        raise NotFound("Unknown connector.")
    await connector.prepare_callback(headers)
    try:
        outcome = connector.parse_payout_callback(body, headers)
    except NotImplementedError as exc:
        raise NotFound("Unknown connector.") from exc
    if not storable(((outcome.payout_id, 100), (outcome.failure_code, 64), (outcome.failure_message, 1000))):
        raise CallbackRejected("malformed notification")
    return await apply_payout_outcome(uow, connector.name, outcome)


async def reconcile_payouts(
    uow: UnitOfWork,
    connectors: ConnectorRegistry,
    *,
    older_than: timedelta,
    lease: timedelta,
    callback_base: CallbackBase | str,
    limit: int = 100,
) -> int:
    """Payouts left open longer than ``older_than``: an initiated one (its process died before handing it
    over) is sent; a pending one's connector is asked and its answer applied. Claimed with a lease first,
    so no two workers do either at once. Returns how many changed."""
    now = utcnow()
    async with uow:
        claimed = await uow.payouts.claim_stale(now - older_than, now + lease, limit)
        await uow.commit()
    changed = 0
    for row in claimed:
        if row.status == PayoutStatus.INITIATED:
            changed += await send_payout(uow, connectors, row.id, callback_base)
            continue
        connector = await connectors.by_name(row.connector)
        if connector is None:
            continue
        try:
            outcome = await connector.fetch_payout_status(row._mapping)
        except Exception:
            log.exception("payout status check failed", extra={"payout_id": row.id})
            continue
        if outcome.payout_id == row.id and await apply_payout_outcome(uow, connector.name, outcome):
            changed += 1
    return changed


async def verify_payout(uow: UnitOfWork, scope: Scope, payout_id: str, *, app: App | None = None) -> Payout:
    """The payout object; another app's or environment's payout is not found."""
    async with uow.reading():
        row = await uow.payouts.get(payout_id, scope)
        return (await uow.payout_views([row._mapping], app=app))[0]


@dataclass(frozen=True, slots=True)
class PayoutPage:
    payouts: list[Payout]
    has_more: bool
    #: (created_at, id) of the page's last payout when another page follows.
    last: tuple[datetime, str] | None


async def list_payouts(
    uow: UnitOfWork,
    scope: Scope,
    where: PaymentFilter,
    *,
    limit: int,
    after: tuple[datetime, str] | None,
    app: App | None = None,
) -> PayoutPage:
    """Newest first; ``after`` is the (created_at, id) of the last payout of the previous page."""
    async with uow.reading():
        rows = await uow.payouts.page(scope, where, limit=limit, after=after)
        page = rows[:limit]
        views = await uow.payout_views([r._mapping for r in page], app=app)
    has_more = len(rows) > limit
    return PayoutPage(views, has_more, (page[-1].created_at, page[-1].id) if has_more and page else None)
