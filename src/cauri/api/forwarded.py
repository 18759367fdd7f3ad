"""Who is on the other end: the client's address and scheme, through trusted reverse proxies only.

Behind nginx or Caddy every connection comes from the proxy, so per-address limits would count the proxy. The
proxy says who it serves in ``X-Forwarded-For`` and ``X-Forwarded-Proto``, but anyone can send those headers:
they are read only when the connection comes from an address listed in ``CAURI_TRUSTED_PROXIES``, and the
client is then the rightmost address of the chain that is not itself a trusted proxy (each proxy appends the
address it saw, so everything left of that is whatever the client chose to write).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send

from cauri.settings import Network

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def _address(text: str) -> Address | None:
    """An address as proxies write it: bare, ``1.2.3.4:port``, or ``[v6]:port``; None when it is none."""
    text = text.strip()
    if text.startswith("["):
        text = text[1 : text.find("]")] if "]" in text else ""
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


@dataclass(frozen=True)
class TrustedProxies:
    networks: tuple[Network, ...]

    def trusts(self, address: Address | None) -> bool:
        return address is not None and any(address in network for network in self.networks)

    def client(self, peer: Address, forwarded_for: str) -> Address:
        """The client behind the trusted ``peer``: walk the chain from the right past trusted proxies. A hop
        that is not an address (a proxy that writes ``unknown``) ends the walk at the last known hop."""
        client = peer
        for hop in reversed(forwarded_for.split(",")):
            address = _address(hop)
            if address is None:
                break
            client = address
            if not self.trusts(address):
                break
        return client


class ForwardedHeaders:
    """Pure ASGI: rewrites the scope's ``client`` and ``scheme`` from a trusted proxy's forwarded headers, so
    every later layer (limits, cookies, the request log) sees the client, not the proxy. From any other peer the
    headers are ignored."""

    def __init__(self, app: ASGIApp, *, trusted: TrustedProxies) -> None:
        self.app = app
        self.trusted = trusted

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.trusted.networks:
            self._rewrite(scope)
        await self.app(scope, receive, send)

    def _rewrite(self, scope: Scope) -> None:
        client = scope.get("client")
        peer = _address(client[0]) if client else None
        if peer is None or not self.trusted.trusts(peer):
            return
        hops: list[str] = []
        proto = b""
        for name, value in scope["headers"]:
            if name == b"x-forwarded-for":
                hops.append(value.decode("latin-1"))
            elif name == b"x-forwarded-proto":
                proto = value
        if hops:
            scope["client"] = (str(self.trusted.client(peer, ",".join(hops))), 0)
        # The leftmost value is the scheme the first proxy received; a client forging it only changes its own
        # answer (a Secure cookie it will not get back over plain HTTP).
        scheme = proto.split(b",")[0].strip().lower()
        if scheme in (b"http", b"https"):
            scope["scheme"] = scheme.decode()


def client_address(connection: HTTPConnection) -> str:
    """The client's address for per-address limits and records: the one function every face uses."""
    return connection.client.host if connection.client else "unknown"


def limit_key(address: str) -> str:
    """What a per-address limit counts: the address, or for IPv6 its /64 (one subscriber's usual allocation,
    which would otherwise give one client 2**64 budgets)."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return address
