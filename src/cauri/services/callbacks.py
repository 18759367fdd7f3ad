"""Where connectors tell the gateway about outcomes: ``/connectors/{name}/callback`` (payments),
``…/payouts/callback`` and ``…/refunds/callback``, under the right root.

A real provider calls from the internet, so it must be given the gateway's PUBLIC url; the sandbox connector
runs inside this process and notifies itself, so it gets the url where the process reaches itself (which works
behind any proxy, and when the public url is not reachable from the server)."""

from __future__ import annotations

from dataclasses import dataclass

from cauri.connectors.sandbox import SandboxConnector
from cauri.settings import Settings

PAYMENT, PAYOUT, REFUND = "callback", "payouts/callback", "refunds/callback"


@dataclass(frozen=True, slots=True)
class CallbackBase:
    #: Where providers reach the gateway (``Settings.resolved_public_url``).
    public: str
    #: Where the process reaches itself (``Settings.internal_url``): the sandbox's notifications.
    internal: str

    @classmethod
    def of(cls, settings: Settings) -> CallbackBase:
        return cls(settings.resolved_public_url.rstrip("/"), settings.internal_url.rstrip("/"))

    @classmethod
    def same(cls, url: str) -> CallbackBase:
        """One root for every connector (a gateway whose public url is the one it reaches itself at)."""
        return cls(url.rstrip("/"), url.rstrip("/"))

    def root(self, connector: str) -> str:
        return self.internal if connector == SandboxConnector.name else self.public

    def payment(self, connector: str) -> str:
        return self.url(connector, PAYMENT)

    def payout(self, connector: str) -> str:
        return self.url(connector, PAYOUT)

    def refund(self, connector: str) -> str:
        return self.url(connector, REFUND)

    def url(self, connector: str, route: str) -> str:
        return f"{self.root(connector)}/connectors/{connector}/{route}"


def as_callback_base(base: CallbackBase | str) -> CallbackBase:
    """``base`` as a ``CallbackBase``: a plain url serves every connector."""
    return CallbackBase.same(base) if isinstance(base, str) else base
