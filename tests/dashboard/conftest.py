"""Dashboard fixtures: users made through the service, and a logged-in HTTP client."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from cauri.app import create_app
from cauri.services.users import create_user
from cauri.settings import Settings
from tests.conftest import MerchantApp, uow

PASSWORD = "correct horse battery staple"


@dataclass(frozen=True)
class User:
    email: str
    password: str


async def new_user(engine: AsyncEngine, role: str, apps: list[str], email: str | None = None) -> User:
    import secrets

    email = email or f"{role}-{secrets.token_hex(4)}@example.com"
    await create_user(uow(engine), email, PASSWORD, role, apps)
    return User(email, PASSWORD)


@pytest.fixture
async def owner(engine: AsyncEngine, merchant: MerchantApp) -> User:
    return await new_user(engine, "owner", [merchant.id])


@pytest.fixture
async def browser_client(settings: Settings, engine: AsyncEngine) -> AsyncIterator[httpx.AsyncClient]:
    """A client that keeps cookies, as a browser does."""
    transport = httpx.ASGITransport(app=create_app(settings, engine))
    async with httpx.AsyncClient(transport=transport, base_url="http://cauri.test") as client:
        yield client


def token_in(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "the page carries a form token"
    return found.group(1)


async def log_in(
    client: httpx.AsyncClient, user: User, *, password: str | None = None, code: str = ""
) -> httpx.Response:
    page = await client.get("/dashboard/login")
    form = {"csrf": token_in(page.text), "email": user.email, "password": password or user.password, "code": code}
    return await client.post("/dashboard/login", data=form)
