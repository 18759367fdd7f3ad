"""Merchants' accounts at real providers: add, list, remove, the candidates routing tries for a method, and the
check ``cauri doctor`` makes of each account's credentials."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from cauri.connectors.base import CredentialsRefused, ProviderUnavailable
from cauri.connectors.providers import PROVIDERS
from cauri.connectors.registry import ConnectorRegistry
from cauri.connectors.router import Candidate
from cauri.domain.apps import Scope
from cauri.domain.clock import iso
from cauri.domain.errors import DomainError, FieldErrors, ValidationFailed
from cauri.domain.payments import Environment
from cauri.domain.providers import (
    ACCOUNT_NOT_FOUND,
    MAX_ACCOUNTS,
    NewAccount,
    ProviderAccountSummary,
    ProviderSpec,
    account_summary,
    check_new_account,
    payout_order,
    routing_order,
    served_methods,
)
from cauri.services.runtime import UnitOfWork

__all__ = ["ACCOUNT_NOT_FOUND", "AccountCheck", "NewAccount", "ProviderAccountSummary"]

log = logging.getLogger("cauri.providers")


def provider_specs() -> dict[str, ProviderSpec]:
    """The providers whose connectors are installed, as the account rules need them."""
    return {
        name: ProviderSpec(
            name, tuple(kind.credential_fields), frozenset(kind.payment_methods), tuple(kind.optional_credentials)
        )
        for name, kind in PROVIDERS.items()
    }


def check_account(body: Mapping[str, Any], environment: str) -> NewAccount:
    """A new account from the API's body or the CLI's options (``ValidationFailed`` naming each field)."""
    return check_new_account(body, provider_specs(), environment)


async def add_account(
    uow: UnitOfWork,
    scope: Scope,
    account: NewAccount,
    master: bytes,
    *,
    also: Callable[[UnitOfWork, ProviderAccountSummary], Awaitable[None]] | None = None,
) -> ProviderAccountSummary:
    """Store the account, its credentials sealed; a label is unique among the app's accounts of the environment.
    ``also`` runs in the same transaction with what was stored (the dashboard's audit entry commits with it)."""
    async with uow:
        existing = await uow.providers.enabled(scope.app_id, scope.environment)
        if any(row.label == account.label for row in existing):
            raise ValidationFailed(FieldErrors({"label": ["The app already has an account with this label."]}))
        if len(existing) >= MAX_ACCOUNTS:
            raise DomainError(f"An app has at most {MAX_ACCOUNTS} provider accounts per environment.")
        row = await uow.providers.add(master, scope.app_id, scope.environment, account)
        summary = account_summary(row._mapping, iso)
        if also is not None:
            await also(uow, summary)
        await uow.commit()
    return summary


async def list_accounts(uow: UnitOfWork, scope: Scope) -> list[ProviderAccountSummary]:
    """The app's accounts of the environment, in routing order."""
    async with uow.reading():
        rows = await uow.providers.enabled(scope.app_id, scope.environment)
    return [account_summary(r._mapping, iso) for r in rows]


async def remove_account(uow: UnitOfWork, scope: Scope, account_id: str) -> None:
    """Routing stops at once; notifications and reconciliation of the account's attempts still reach it."""
    async with uow:
        await uow.providers.disable(scope.app_id, scope.environment, account_id)
        await uow.commit()


async def served(uow: UnitOfWork, scope: Scope) -> frozenset[str]:
    """The payment methods some enabled account of the app serves, through an installed connector."""
    async with uow.reading():
        rows = await uow.providers.enabled(scope.app_id, scope.environment)
    return served_methods([r._mapping for r in rows if r.provider in PROVIDERS])


async def candidates(uow: UnitOfWork, connectors: ConnectorRegistry, scope: Scope, method: str) -> list[Candidate]:
    """What routing tries for an attempt with ``method``, in order: the app's accounts serving it; in the sandbox
    environment, the sandbox connector when no account of the sandbox environment does."""
    async with uow.reading():
        rows = await uow.providers.enabled(scope.app_id, scope.environment)
    by_id = {r.id: r for r in rows}
    found: list[Candidate] = []
    for chosen in routing_order([r._mapping for r in rows], method):
        row = by_id[chosen["id"]]
        connector = connectors.connector_for(connectors.stored_account(row))
        if connector is not None:
            found.append(Candidate(connector, row.provider, row.label))
    if not found and scope.environment == Environment.SANDBOX.value:
        found.append(Candidate(connectors.sandbox, "sandbox"))
    return found


async def payout_candidates(
    uow: UnitOfWork, connectors: ConnectorRegistry, scope: Scope, method: str
) -> list[Candidate]:
    """Where a payout with ``method`` goes, in order: the app's enabled accounts whose provider pays out with it
    (``domain.providers.payout_order``); in the sandbox environment, the sandbox connector when none does."""
    async with uow.reading():
        rows = await uow.providers.enabled(scope.app_id, scope.environment)
    by_id = {r.id: r for r in rows}
    paying = {name: frozenset(kind.payout_methods) for name, kind in PROVIDERS.items()}
    found: list[Candidate] = []
    for chosen in payout_order([r._mapping for r in rows], paying, method):
        row = by_id[chosen["id"]]
        connector = connectors.connector_for(connectors.stored_account(row))
        if connector is not None:
            found.append(Candidate(connector, row.provider, row.label))
    if not found and scope.environment == Environment.SANDBOX.value:
        found.append(Candidate(connectors.sandbox, "sandbox"))
    return found


@dataclass(frozen=True, slots=True)
class AccountCheck:
    account: ProviderAccountSummary
    status: str  # ok, refused, unreachable, not_installed, error
    detail: str

    @property
    def reachable(self) -> bool:
        return self.status == "ok"


async def check_accounts(uow: UnitOfWork, connectors: ConnectorRegistry, app_id: str) -> list[AccountCheck]:
    """Ask each of the app's enabled accounts (both environments) whether its provider takes its credentials."""
    async with uow.reading():
        rows = await uow.providers.enabled(app_id)
    checks: list[AccountCheck] = []
    for row in rows:
        summary = account_summary(row._mapping, iso)
        connector = connectors.connector_for(connectors.stored_account(row))
        if connector is None:
            checks.append(AccountCheck(summary, "not_installed", f"no connector for {row.provider} is installed"))
            continue
        try:
            said = await connector.check_credentials()
        except CredentialsRefused as exc:
            checks.append(AccountCheck(summary, "refused", f"credentials refused: {exc}"[:300]))
        except ProviderUnavailable as exc:
            checks.append(AccountCheck(summary, "unreachable", f"unreachable: {exc}"[:300]))
        except Exception as exc:
            log.warning("credentials check failed", extra={"connector": row.id, "error": type(exc).__name__})
            checks.append(AccountCheck(summary, "error", f"{type(exc).__name__}: {exc}"[:300]))
        else:
            checks.append(AccountCheck(summary, "ok", said[:300]))
    return checks
