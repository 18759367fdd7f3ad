"""Which connector answers to which name. The sandbox serves every method of sandbox payments; real providers
are merchants' accounts (``ProviderAccount``), whose connectors are built from the stored account on first use
and kept, rebuilt when the account changes. Routing (``router.py``) chooses among them for each attempt."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from cauri.connectors.base import Connector, ProviderAccount, ProviderConnector
from cauri.connectors.providers import PROVIDERS
from cauri.connectors.router import Breakers
from cauri.connectors.sandbox import SandboxConnector

log = logging.getLogger("cauri.providers")
#: The shape of an account id (``pa_`` and 16 base36 characters): nothing else is looked up in the database.
ACCOUNT_ID = re.compile(r"pa_[0-9a-z]{16}")
#: Outbound calls to providers: a connection that does not open in 5 s, or an answer not there in 20 s, fails.
PROVIDER_TIMEOUT = httpx.Timeout(20.0, connect=5.0)


@dataclass(frozen=True, slots=True)
class StoredAccount:
    """An account as the store hands it over: opened only when its connector must be (re)built."""

    id: str
    #: Changes whenever the account does (its ``updated_at``): a connector built from an older one is rebuilt.
    version: Any
    open: Callable[[], ProviderAccount]
    provider: str


#: Finds an account by id (the runtime's database lookup); None when there is none.
AccountLoader = Callable[[str], Awaitable[StoredAccount | None]]


@dataclass
class ConnectorRegistry:
    sandbox: SandboxConnector
    breakers: Breakers = field(default_factory=Breakers)
    #: How ``by_name`` finds an account it has not built yet (set by the runtime; None: only the sandbox).
    accounts: AccountLoader | None = None
    #: How a stored account's row becomes a ``StoredAccount`` (set by the runtime, which holds the sealing key).
    stored_account: Callable[[Any], StoredAccount] = field(default=lambda row: _no_store(row))
    _built: dict[str, tuple[Any, ProviderConnector]] = field(default_factory=dict)
    _http: httpx.AsyncClient | None = None

    async def by_name(self, name: str) -> Connector | None:
        """The connector a name designates: the sandbox, or a provider account (whose notifications arrive at
        ``/connectors/{account id}/callback``)."""
        if name == self.sandbox.name:
            return self.sandbox
        if self.accounts is None or not ACCOUNT_ID.fullmatch(name):
            return None
        stored = await self.accounts(name)
        return None if stored is None else self.connector_for(stored)

    def connector_for(self, stored: StoredAccount) -> ProviderConnector | None:
        """The account's connector, built once per version of the account; None when its provider's connector
        is not installed or its credentials cannot be opened."""
        kind = PROVIDERS.get(stored.provider)
        if kind is None:
            return None
        cached = self._built.get(stored.id)
        if cached is not None and cached[0] == stored.version and type(cached[1]) is kind:
            return cached[1]
        try:
            account = stored.open()
        except Exception:
            # Credentials sealed under another key (or damaged): this account is unusable, the others are not.
            log.error("provider account credentials cannot be opened", extra={"connector": stored.id})
            return None
        connector = kind(account, self.http())
        self._built[stored.id] = (stored.version, connector)
        return connector

    def http(self) -> httpx.AsyncClient:
        """One client for every provider call (its pool shared, its timeouts set), made on first use."""
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=PROVIDER_TIMEOUT, follow_redirects=False)
        return self._http

    async def close(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None


def _no_store(row: Any) -> StoredAccount:
    raise RuntimeError("this registry reads no stored accounts")
