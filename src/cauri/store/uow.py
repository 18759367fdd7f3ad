"""The unit of work: one connection, its repositories, and the events of the change written with it.

One place decides who owns a transaction. A service opens the unit (``async with uow:``), changes things
through its repositories, and calls ``await uow.commit()``; leaving the block without committing rolls back.
The events that the changes emit are queued by the repositories and written, with the webhook deliveries and
emails they owe (the outbox), right before the commit, in the same transaction: nothing is lost when a
process dies, and an event's body is the payment as it is once every change of the unit is made.

``reading()`` opens the same repositories on a connection without a transaction (autocommit on
PostgreSQL spares a BEGIN and a ROLLBACK round trip), for operations that only read.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping, Sequence
from types import TracebackType
from typing import Any, Self

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from cauri.domain.clock import utcnow
from cauri.domain.ledger import DEFAULT_SANDBOX_CREDIT
from cauri.domain.payout_representation import Payout
from cauri.domain.representation import AppLike, Payment
from cauri.store.apps import AppRepository
from cauri.store.attempts import AttemptRepository
from cauri.store.audit import AuditRepository
from cauri.store.dashboard import DashboardRepository
from cauri.store.emails import EmailRepository
from cauri.store.idempotency import IdempotencyRepository
from cauri.store.ledger import Ledger
from cauri.store.monitoring import MonitoringRepository
from cauri.store.outbox import insert_event, insert_payout_event
from cauri.store.overview import OverviewRepository
from cauri.store.payments import PaymentRepository
from cauri.store.payouts import PayoutRepository, payout_views
from cauri.store.providers import ProviderRepository
from cauri.store.rates import RateRepository
from cauri.store.refunds import RefundRepository
from cauri.store.users import UserRepository
from cauri.store.views import payment_views
from cauri.store.webhooks import WebhookRepository


class SqlUnitOfWork:
    payments: PaymentRepository
    attempts: AttemptRepository
    apps: AppRepository
    webhooks: WebhookRepository
    emails: EmailRepository
    idempotency: IdempotencyRepository
    monitoring: MonitoringRepository
    payouts: PayoutRepository
    refunds: RefundRepository
    ledger: Ledger
    rates: RateRepository
    providers: ProviderRepository
    users: UserRepository
    audit: AuditRepository
    dashboard: DashboardRepository

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        public_url: str,
        reader: AsyncEngine | None = None,
        sandbox_credit: int = DEFAULT_SANDBOX_CREDIT,
    ) -> None:
        self.engine = engine
        self.sandbox_credit = sandbox_credit
        self.reader = reader or engine
        self.public_url = public_url
        self._conn: AsyncConnection | None = None
        self._events: list[tuple[str, str]] = []
        self._payout_events: list[tuple[str, str]] = []

    def _bind(self, conn: AsyncConnection) -> None:
        self._conn = conn
        self._events = []
        self._payout_events = []
        self.ledger = Ledger(conn, self.sandbox_credit)
        self.payments = PaymentRepository(conn, self.emit, self.ledger)
        self.payouts = PayoutRepository(conn, self.emit_payout, self.ledger)
        self.refunds = RefundRepository(conn, self.emit, self.ledger)
        self.attempts = AttemptRepository(conn)
        self.apps = AppRepository(conn)
        self.webhooks = WebhookRepository(conn)
        self.emails = EmailRepository(conn)
        self.idempotency = IdempotencyRepository(conn)
        self.monitoring = MonitoringRepository(conn)
        self.rates = RateRepository(conn)
        self.providers = ProviderRepository(conn)
        self.users = UserRepository(conn)
        self.audit = AuditRepository(conn)
        self.dashboard = DashboardRepository(conn)
        self.overview = OverviewRepository(conn)

    async def __aenter__(self) -> Self:
        if self._conn is not None:
            raise RuntimeError("this unit of work is already open")
        conn = await self.engine.connect()
        await conn.begin()
        self._bind(conn)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        conn, self._conn = self._conn, None
        assert conn is not None
        try:
            if conn.in_transaction():
                await conn.rollback()
        finally:
            await conn.close()

    @contextlib.asynccontextmanager
    async def reading(self) -> AsyncIterator[Self]:
        if self._conn is not None:
            raise RuntimeError("this unit of work is already open")
        async with self.reader.connect() as conn:
            self._bind(conn)
            try:
                yield self
            finally:
                self._conn = None

    def emit(self, kind: str, payment_id: str) -> None:
        """Queue the event ``kind`` about a payment; it is written at commit, with what it owes."""
        self._events.append((kind, payment_id))

    def emit_payout(self, kind: str, payout_id: str) -> None:
        """Queue the event ``kind`` about a payout; it is written at commit, with the deliveries it owes."""
        self._payout_events.append((kind, payout_id))

    async def commit(self) -> None:
        conn = self._conn
        assert conn is not None, "commit() outside 'async with uow'"
        events, self._events = self._events, []
        now = utcnow()
        for kind, payment_id in events:
            row = await self.payments.find(payment_id)
            assert row is not None
            body = (await payment_views(conn, [row._mapping], public_url=self.public_url))[0]
            await insert_event(conn, row._mapping, kind, body, now)
        payout_events, self._payout_events = self._payout_events, []
        for kind, payout_id in payout_events:
            payout = await self.payouts.find(payout_id)
            assert payout is not None
            data = (await payout_views(conn, [payout._mapping]))[0]
            await insert_payout_event(conn, payout._mapping, kind, data, now)
        await conn.commit()

    async def payment_views(self, rows: Sequence[Mapping[Any, Any]], *, app: AppLike | None = None) -> list[Payment]:
        assert self._conn is not None
        return await payment_views(self._conn, rows, public_url=self.public_url, app=app)

    async def payout_views(self, rows: Sequence[Mapping[Any, Any]], *, app: AppLike | None = None) -> list[Payout]:
        assert self._conn is not None
        return await payout_views(self._conn, rows, app=app)
