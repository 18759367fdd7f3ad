"""A merchant's provider account stored as a real user stores one (through the service the API and the CLI
call), pointed at a simulator: the one way the gateway-level tests wire a connector into live routing."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from cauri.domain.apps import Scope
from cauri.domain.payments import Environment
from cauri.services.providers import add_account, check_account
from cauri.settings import Settings
from tests.conftest import MerchantApp, uow

#: The test settings give up on a lock after 300 ms; a live gateway's provider sends duplicate notifications at
#: once, and on a loaded machine the second waits longer than that for the first's commit (it would be answered
#: 409, "retry", where the tests check it is acknowledged and applied once).
PATIENT_LOCKS = {"lock_timeout_ms": 10_000}


async def stored_account(
    settings: Settings,
    engine: AsyncEngine,
    merchant: MerchantApp,
    provider: str,
    credentials: dict[str, str],
    base_url: str,
    *,
    sandbox: bool = True,
) -> str:
    """Store a live account of ``merchant`` at ``provider`` whose API root is ``base_url``; its id (``pa_…``)."""
    live = Environment.LIVE.value
    body = {"provider": provider, "label": f"{provider} account", "credentials": credentials, "sandbox": sandbox,
            "base_url": base_url}  # fmt: skip
    summary = await add_account(uow(engine), Scope(merchant.id, live), check_account(body, live), settings.secret)
    return summary["id"]
