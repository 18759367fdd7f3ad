"""Balances (our extension): what the key's app collected, refunded, paid out and has available, per currency."""

from __future__ import annotations

from cauri.domain.apps import Scope
from cauri.domain.ledger import Balance
from cauri.services.runtime import UnitOfWork

__all__ = ["list_balances"]


async def list_balances(uow: UnitOfWork, scope: Scope) -> list[Balance]:
    """One balance per currency the app has moved money in, in this environment (by currency code)."""
    async with uow.reading():
        return await uow.ledger.balances(scope)
