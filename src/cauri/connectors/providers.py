"""The real providers Cauri ships connectors for, by name (``cauri providers add APP PROVIDER``)."""

from __future__ import annotations

from cauri.connectors.base import ProviderConnector
from cauri.connectors.fedapay import FedapayConnector

#: Filled by each provider module's entry below, e.g. ``"pawapay": PawapayConnector``.
PROVIDERS: dict[str, type[ProviderConnector]] = {}
PROVIDERS["fedapay"] = FedapayConnector
