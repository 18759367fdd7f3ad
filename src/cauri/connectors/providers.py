"""The real providers Cauri ships connectors for, by name (``cauri providers add APP PROVIDER``)."""

from __future__ import annotations

from cauri.connectors.base import ProviderConnector
from cauri.connectors.pawapay import PawapayConnector

#: Filled by each provider module's entry below, e.g. ``"pawapay": PawapayConnector``.
PROVIDERS: dict[str, type[ProviderConnector]] = {}
PROVIDERS["pawapay"] = PawapayConnector
