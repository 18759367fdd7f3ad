"""Which connector serves which method. The sandbox serves every method of sandbox payments; live
payments need a real connector registered here (none ships yet, so live payments offer no method)."""

from __future__ import annotations

from dataclasses import dataclass, field

from cauri.connectors.base import Connector
from cauri.connectors.sandbox import SandboxConnector
from cauri.domain.methods import PaymentMethod, PayoutMethod


@dataclass
class ConnectorRegistry:
    sandbox: SandboxConnector
    #: Live connectors by method code. A real provider module registers itself here.
    live: dict[str, Connector] = field(default_factory=dict)
    #: Live connectors that pay out, by payout method code (none ships yet: live payouts are refused).
    live_payouts: dict[str, Connector] = field(default_factory=dict)

    def for_method(self, method: PaymentMethod, environment: str) -> Connector | None:
        if environment == "sandbox":
            return self.sandbox
        return self.live.get(method.code)

    def for_payout(self, method: PayoutMethod, environment: str) -> Connector | None:
        if environment == "sandbox":
            return self.sandbox
        return self.live_payouts.get(method.code)

    def by_name(self, name: str) -> Connector | None:
        if name == self.sandbox.name:
            return self.sandbox
        known = [*self.live.values(), *self.live_payouts.values()]
        return next((c for c in known if c.name == name), None)
