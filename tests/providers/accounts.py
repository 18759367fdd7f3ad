"""A merchant's provider account stored as a real user stores one (through the service the API and the CLI
call), pointed at a simulator: the one way the gateway-level tests wire a connector into live routing."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from cauri.domain.apps import Scope
from cauri.domain.payments import Environment
from cauri.services.providers import add_account, check_account
from cauri.settings import Settings
from tests.conftest import MerchantApp, uow


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
