"""An in-memory unit of work: the services' rules, tested without a database.

Rows are ``SimpleNamespace`` objects with a ``_mapping`` (what SQLAlchemy rows offer the services)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from cauri.domain.apps import App, Scope
from cauri.domain.attempts import AttemptStatus
from cauri.domain.clock import utcnow
from cauri.domain.errors import NotFound
from cauri.domain.payments import (
    EVENT_FOR_STATUS,
    PaymentStatus,
    TransitionRefused,
    check_processable,
    check_transition,
)
from cauri.domain.payouts import PAYOUT_EVENT_FOR_STATUS, STAMP_FOR_STATUS, PayoutStatus, payout_sources_of
from cauri.domain.rates import Rate


def row(**fields: Any) -> SimpleNamespace:
    item = SimpleNamespace(**fields)
    item._mapping = fields
    return item


class FakePayments:
    def __init__(self, uow: FakeUnitOfWork) -> None:
        self.uow = uow
        self.rows: dict[str, dict[str, Any]] = {}

    async def find(self, payment_id: str, *, lock: bool = False) -> SimpleNamespace | None:
        data = self.rows.get(payment_id)
        return None if data is None else row(**data)

    async def get(self, payment_id: str, scope: Scope, *, lock: bool = False) -> SimpleNamespace:
        data = self.rows.get(payment_id)
        if data is None or (data["app_id"], data["environment"]) != (scope.app_id, scope.environment):
            raise NotFound("Payment transaction not found.")
        return row(**data)

    async def move(self, payment_id: str, scope: Scope, target: PaymentStatus) -> SimpleNamespace:
        current = await self.get(payment_id, scope)
        check_transition(PaymentStatus(current.status), target)
        self.uow.staged.append(("payment", payment_id, {"status": target.value}))
        if target in EVENT_FOR_STATUS:
            self.uow.emit(EVENT_FOR_STATUS[target], payment_id)
        return row(**{**current._mapping, "status": target.value})

    async def mark_processed(self, payment_id: str, scope: Scope) -> SimpleNamespace:
        current = await self.get(payment_id, scope)
        check_processable(PaymentStatus(current.status))
        self.uow.staged.append(("payment", payment_id, {"is_processed": True}))
        return row(**{**current._mapping, "is_processed": True})


class FakeAttempts:
    def __init__(self, uow: FakeUnitOfWork) -> None:
        self.uow = uow
        self.rows: dict[str, dict[str, Any]] = {}

    async def charge_of(self, attempt_id: str, connector: str) -> SimpleNamespace | None:
        attempt = self.rows.get(attempt_id)
        if attempt is None or attempt["connector"] != connector:
            return None
        return row(payment_id=attempt["payment_id"], amount_debited=None, currency_debited=None)

    async def latest(self, payment_id: str) -> SimpleNamespace | None:
        mine = [a for a in self.rows.values() if a["payment_id"] == payment_id]
        return row(**mine[-1]) if mine else None

    async def counts(self, payment_id: str) -> tuple[int, int]:
        mine = [a for a in self.rows.values() if a["payment_id"] == payment_id]
        return len(mine), sum(a["status"] == "pending" for a in mine)

    async def add(self, attempt: dict[str, Any]) -> None:
        self.uow.staged.append(("new_attempt", attempt["id"], attempt))

    async def record_started(self, attempt_id: str, reference: str, next_action: dict[str, Any]) -> None:
        self.uow.staged.append(("attempt", attempt_id, {"provider_reference": reference, "next_action": next_action}))

    async def record_routing(self, attempt_id: str, steps: list[Any], connector: str | None = None) -> bool:
        changes: dict[str, Any] = {"routing": steps}
        if connector is not None:
            changes["connector"] = connector
        self.uow.staged.append(("attempt", attempt_id, changes))
        return True

    async def finish(
        self,
        attempt_id: str,
        connector: str,
        status: AttemptStatus,
        code: str | None,
        message: str | None,
        reference: str | None = None,
    ) -> tuple[str, str] | None:
        attempt = self.rows.get(attempt_id)
        if attempt is None or attempt["connector"] != connector or attempt["status"] != "pending":
            return None
        changes = {"status": status.value, "failure_code": code, "failure_message": message}
        if reference and not attempt.get("provider_reference"):
            changes["provider_reference"] = reference
        self.uow.staged.append(("attempt", attempt_id, changes))
        return str(attempt["payment_id"]), str(attempt["method"])

    async def fail_pending(self, payment_ids: Sequence[str], code: str, reason: str) -> None:
        for attempt in self.rows.values():
            if attempt["payment_id"] in payment_ids and attempt["status"] == "pending":
                changes = {"status": "failed", "failure_code": code, "failure_message": reason}
                self.uow.staged.append(("attempt", attempt["id"], changes))


class FakePayouts:
    """Payouts: ``move`` is the compare-and-set of ``store/payouts.py``, staged until commit."""

    def __init__(self, uow: FakeUnitOfWork) -> None:
        self.uow = uow
        self.rows: dict[str, dict[str, Any]] = {}

    async def add(self, payout: dict[str, Any]) -> None:
        self.uow.staged.append(("new_payout", payout["id"], payout))
        self.uow.emit_payout(PAYOUT_EVENT_FOR_STATUS[PayoutStatus.INITIATED], payout["id"])

    async def find(self, payout_id: str) -> SimpleNamespace | None:
        data = self.rows.get(payout_id)
        return None if data is None else row(**data)

    async def move(
        self,
        payout_id: str,
        target: PayoutStatus,
        *,
        connector: str | None = None,
        reference: str | None = None,
        failure_code: str | None = None,
        failure_message: str | None = None,
    ) -> SimpleNamespace | None:
        current = self.rows.get(payout_id)
        if current is None or PayoutStatus(current["status"]) not in payout_sources_of(target):
            return None
        if connector is not None and current["connector"] != connector:
            return None
        changes: dict[str, Any] = {"status": target.value, STAMP_FOR_STATUS[target]: utcnow()}
        if target is PayoutStatus.FAILED:
            changes |= {"failure_code": failure_code, "failure_message": failure_message}
        self.uow.staged.append(("payout", payout_id, changes))
        if target in PAYOUT_EVENT_FOR_STATUS:
            self.uow.emit_payout(PAYOUT_EVENT_FOR_STATUS[target], payout_id)
        return row(**{**current, **changes})

    async def record_reference(self, payout_id: str, reference: str) -> None:
        self.uow.staged.append(("payout", payout_id, {"provider_reference": reference}))


class FakeRates:
    """Rates by (base, quote, source); a put is staged and applied on commit."""

    def __init__(self, uow: FakeUnitOfWork) -> None:
        self.uow = uow
        self.rows: dict[tuple[str, str, str], Rate] = {}

    async def put(self, rate: Rate) -> None:
        self.uow.staged.append(("rate", f"{rate.base}/{rate.quote}/{rate.source.value}", {"rate": rate}))

    async def all(self) -> list[Rate]:
        return [self.rows[key] for key in sorted(self.rows)]


class FakeProviders:
    """No provider accounts: the sandbox serves every attempt."""

    async def enabled(self, app_id: str, environment: str | None = None) -> list[Any]:
        return []


class FakeApps:
    def __init__(self) -> None:
        self.apps: dict[str, App] = {}

    async def get(self, app_id: str) -> App:
        return self.apps[app_id]


class FakeUnitOfWork:
    """Changes are staged and applied on commit, like a transaction; events are kept in ``events``."""

    public_url = "http://cauri.test"

    def __init__(self) -> None:
        self.payments = FakePayments(self)
        self.attempts = FakeAttempts(self)
        self.payouts = FakePayouts(self)
        self.apps = FakeApps()
        self.rates = FakeRates(self)
        self.providers = FakeProviders()
        self.staged: list[tuple[str, str, dict[str, Any]]] = []
        self.pending_events: list[tuple[str, str]] = []
        self.events: list[tuple[str, str]] = []
        self.commits = 0

    async def __aenter__(self) -> FakeUnitOfWork:
        self.staged, self.pending_events = [], []
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.staged, self.pending_events = [], []  # anything not committed is rolled back

    @contextlib.asynccontextmanager
    async def reading(self) -> AsyncIterator[FakeUnitOfWork]:
        yield self

    def emit(self, kind: str, payment_id: str) -> None:
        self.pending_events.append((kind, payment_id))

    def emit_payout(self, kind: str, payout_id: str) -> None:
        self.pending_events.append((kind, payout_id))

    async def commit(self) -> None:
        for kind, key, changes in self.staged:
            if kind == "payment":
                self.payments.rows[key].update(changes)
            elif kind == "new_attempt":
                self.attempts.rows[key] = dict(changes)
            elif kind == "new_payout":
                self.payouts.rows[key] = dict(changes)
            elif kind == "payout":
                self.payouts.rows[key].update(changes)
            elif kind == "rate":
                base, quote, source = key.split("/")
                self.rates.rows[(base, quote, source)] = changes["rate"]
            else:
                self.attempts.rows[key].update(changes)
        self.events += self.pending_events
        self.staged, self.pending_events = [], []
        self.commits += 1

    async def payment_views(self, rows: Sequence[Any], *, app: Any = None) -> list[dict[str, Any]]:
        return [dict(r) for r in rows]

    # Test set-up helpers.
    def add_payment(self, payment_id: str, status: str = "initiated", **fields: Any) -> None:
        now: datetime = utcnow()
        self.payments.rows[payment_id] = {
            "id": payment_id, "app_id": "app", "environment": "sandbox", "status": status, "amount": 5000,
            "currency": "XOF", "is_processed": False, "initiated_at": now, "customer": {}, "restricted_phone": None,
            "customer_email": "ama@example.com",
            **fields,
        }  # fmt: skip

    def add_attempt(
        self, attempt_id: str, payment_id: str, connector: str = "sandbox", status: str = "pending"
    ) -> None:
        self.attempts.rows[attempt_id] = {
            "id": attempt_id, "payment_id": payment_id, "connector": connector, "status": status, "method": "mtn_bj",
        }  # fmt: skip


__all__ = ["FakeUnitOfWork", "TransitionRefused"]
