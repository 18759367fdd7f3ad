"""Every connector reads a provider's answer with a size bound: a host that answers endlessly (misbehaving,
or hijacked) costs the gateway one bounded read, not its memory, and the call's outcome is unknown (never
``ProviderUnavailable``: the request was sent)."""

from __future__ import annotations

import asyncio
import gzip
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.routing import Route

from cauri.connectors.answers import MAX_ANSWER_BYTES, AnswerTooLarge
from cauri.connectors.base import ProviderAccount, ProviderConnector, ProviderUnavailable
from cauri.connectors.fedapay import FedapayConnector
from cauri.connectors.pawapay import PawapayConnector
from cauri.connectors.paystack import PaystackConnector
from tests.conftest import serving

CHUNK = b"[" + b"0," * 32767 + b"0"  # 64 KB of a JSON array that never closes
ENDLESS = 1024  # chunks: 64 MB unless the client stops reading


class Endless:
    def __init__(self) -> None:
        self.sent = 0

    async def answer(self, request: Request) -> StreamingResponse:
        async def body() -> AsyncIterator[bytes]:
            for _ in range(ENDLESS):
                self.sent += len(CHUNK)
                yield CHUNK
                await asyncio.sleep(0.002)  # a pace at which the server notices the client has gone

        return StreamingResponse(body(), media_type="application/json")

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/{path:path}", self.answer, methods=["GET", "POST"])])


@pytest.fixture
def endless() -> Iterator[tuple[Endless, str]]:
    host = Endless()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with serving(host.app(), port) as url:
        yield host, url


def connectors(url: str) -> list[tuple[ProviderConnector, Callable[[ProviderConnector], Awaitable[Any]]]]:
    def account(provider: str, **credentials: str) -> ProviderAccount:
        return ProviderAccount(f"pa_{provider}", provider, credentials, sandbox=True, base_url=url)

    return [
        (PaystackConnector(account("paystack", secret_key="sk_test_x")),
         lambda c: c.fetch_status({"id": "att_1", "provider_reference": "att-1"})),
        (FedapayConnector(account("fedapay", secret_key="sk_sandbox_x", webhook_secret="w")),
         lambda c: c.fetch_status({"id": "att_1", "provider_reference": "1"})),
        (PawapayConnector(account("pawapay", api_token="t")), lambda c: c.fetch_status({"id": "att_1"})),
    ]  # fmt: skip


async def test_an_endless_answer_is_read_up_to_the_bound_only(endless: tuple[Endless, str]) -> None:
    host, url = endless
    for connector, call in connectors(url):
        host.sent = 0
        with pytest.raises(AnswerTooLarge) as raised:
            await call(connector)
        assert not isinstance(raised.value, ProviderUnavailable), connector.provider
        assert host.sent < 16 * MAX_ANSWER_BYTES, connector.provider  # it stopped reading, far before 64 MB


async def test_a_compressed_answer_is_bounded_once_decoded_and_read_normally_otherwise() -> None:
    small = gzip.compress(b'{"status": true, "data": {"status": "success"}}')
    bomb = gzip.compress(b" " * (4 * MAX_ANSWER_BYTES))
    answers = iter([small, bomb])

    async def answer(request: Request) -> StreamingResponse:
        body = next(answers)

        async def stream() -> AsyncIterator[bytes]:
            yield body

        return StreamingResponse(stream(), media_type="application/json", headers={"content-encoding": "gzip"})

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = Starlette(routes=[Route("/{path:path}", answer)])
    with serving(app, port) as url:
        account = ProviderAccount("pa_p", "paystack", {"secret_key": "sk_test_x"}, sandbox=True, base_url=url)
        async with httpx.AsyncClient(timeout=httpx.Timeout(5.0)) as http:
            connector = PaystackConnector(account, http)
            outcome = await connector.fetch_status({"id": "att_1", "provider_reference": "att-1"})
            assert outcome.status.value == "success"
            with pytest.raises(AnswerTooLarge):  # 4 MB of spaces in a few KB of gzip
                await connector.fetch_status({"id": "att_1", "provider_reference": "att-1"})
