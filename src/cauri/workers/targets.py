"""Where a live webhook may go: the host is resolved once per try, every address it has is checked, and the
connection goes to the address that was checked (a second lookup by the HTTP client could answer otherwise:
DNS rebinding)."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from typing import Any

import httpx

from cauri.domain.webhooks import is_public_address


class UnsafeTarget(Exception):
    """The URL resolves to an address a live webhook may not reach (loopback, private, link-local…)."""


async def resolve(host: str, port: int) -> list[str]:
    """The addresses ``host`` has now, in the system resolver's order of preference."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


async def check_target(url: httpx.URL) -> str:
    """Resolve the host now (not only at registration: DNS can change) and refuse it if any of its addresses
    is not public; returns the address to connect to."""
    host = url.raw_host.decode("ascii")  # IDNA-encoded, as resolvers want it
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        addresses = await resolve(host, port)
    except socket.gaierror as exc:
        raise UnsafeTarget(f"cannot resolve {host}") from exc
    if not addresses:
        raise UnsafeTarget(f"cannot resolve {host}")
    if not all(is_public_address(address) for address in addresses):
        raise UnsafeTarget(f"{host} resolves to a non-public address")
    return addresses[0]


def pinned(url: httpx.URL, address: str) -> tuple[httpx.URL, dict[str, str], dict[str, Any]]:
    """The request's URL with ``address`` for its host, the Host header the URL implies, and the extension
    that keeps TLS's server name (and so the certificate check) on the hostname."""
    host = url.raw_host.decode("ascii")
    headers = {"Host": url.netloc.decode("ascii")}
    extensions: dict[str, Any] = {} if _is_ip(host) else {"sni_hostname": host}
    return url.copy_with(host=address), headers, extensions


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
