"""The real providers Cauri ships connectors for, by name (``cauri providers add APP PROVIDER``)."""

from __future__ import annotations

from cauri.connectors.base import ProviderConnector
from cauri.connectors.fedapay import FedapayConnector
from cauri.connectors.pawapay import PawapayConnector
from cauri.connectors.paystack import PaystackConnector

PROVIDERS: dict[str, type[ProviderConnector]] = {
    connector.provider: connector for connector in (FedapayConnector, PawapayConnector, PaystackConnector)
}
