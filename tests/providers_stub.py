"""A stub provider for routing tests: a tiny HTTP service on loopback, told how to answer (take the payment,
answer 503, hang, refuse the credentials), and a ``ProviderConnector`` that talks to it over real HTTP; it
collects (``/collect``) and pays out (``/payout``).

The stub stands in for the edge (a real provider); everything between the checkout and it is the real code."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import socket
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from cauri.connectors.base import (
    ActionKind,
    AttemptRequest,
    CallbackRejected,
    CredentialsRefused,
    NextAction,
    Outcome,
    PayoutOutcome,
    PayoutRequest,
    ProviderAccount,
    ProviderConnector,
    ProviderUnavailable,
    Started,
)
from cauri.connectors.providers import PROVIDERS
from cauri.domain.attempts import AttemptStatus
from cauri.domain.payouts import PayoutStatus
from tests.conftest import serving

#: How long the connector waits for an answer: the stub's "hang" outlasts it.
TIMEOUT = 0.5


@dataclass
class StubProvider:
    """One stub provider's state: how it answers now, and every collection it took."""

    url: str = ""
    mode: str = "accept"  # accept, unavailable (503), hang (no answer in time), refuse (401 to every call)
    collected: list[dict[str, Any]] = field(default_factory=list)
    paid_out: list[dict[str, Any]] = field(default_factory=list)
    calls: int = 0
    seen_headers: list[dict[str, str]] = field(default_factory=list)

    def app(self) -> Starlette:
        async def take(request: Request, into: list[dict[str, Any]]) -> Response:
            self.calls += 1
            self.seen_headers.append(dict(request.headers))
            if self.mode == "unavailable":
                return JSONResponse({"error": "temporarily unavailable"}, status_code=503)
            if self.mode == "refuse":
                return JSONResponse({"error": "invalid key"}, status_code=401)
            body = orjson.loads(await request.body())
            if self.mode == "hang":
                into.append(body)  # taken, but the answer comes too late: the caller cannot know
                await asyncio.sleep(TIMEOUT * 4)
            else:
                into.append(body)
            return JSONResponse({"reference": f"ref-{body['id']}", "status": "pending"})

        async def collect(request: Request) -> Response:
            return await take(request, self.collected)

        async def payout(request: Request) -> Response:
            return await take(request, self.paid_out)

        async def me(request: Request) -> Response:
            if self.mode == "refuse" or request.headers.get("authorization") != "Bearer good-key":
                return JSONResponse({"error": "invalid key"}, status_code=401)
            if self.mode == "unavailable":
                return JSONResponse({"error": "down"}, status_code=503)
            return JSONResponse({"account": "Stub merchant"})

        routes = [Route("/collect", collect, methods=["POST"]), Route("/payout", payout, methods=["POST"]),
                  Route("/me", me, methods=["GET"])]  # fmt: skip
        return Starlette(routes=routes)


class StubConnector(ProviderConnector):
    provider = "stub"
    credential_fields = ("api_key",)
    payment_methods = frozenset({"mtn_bj", "moov_bj", "card_xof"})
    payout_methods = frozenset({"mtn_bj", "moov_bj"})

    def __init__(self, account: ProviderAccount, http: Any = None) -> None:
        super().__init__(account, http)
        self.http: httpx.AsyncClient = http or httpx.AsyncClient()
        self.base = (account.base_url or "https://stub.invalid").rstrip("/")

    @property
    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.account.credentials['api_key']}"}

    async def start(self, request: AttemptRequest, callback_url: str) -> Started:
        body = {"id": request.attempt_id, "amount": request.amount, "phone": request.phone, "callback": callback_url}
        try:
            answer = await self.http.post(f"{self.base}/collect", json=body, headers=self._auth, timeout=TIMEOUT)
        except httpx.ConnectError as exc:
            raise ProviderUnavailable("connection refused") from exc
        if answer.status_code == 503:
            raise ProviderUnavailable("503 from the provider")
        answer.raise_for_status()
        return Started(answer.json()["reference"], NextAction(ActionKind.CONFIRM_ON_PHONE))

    def parse_callback(self, body: bytes, headers: Mapping[str, str]) -> Outcome:
        data = self._verified(body, headers)
        return Outcome(data["attempt_id"], AttemptStatus(data["status"]))

    async def payout(self, request: PayoutRequest, callback_url: str) -> str:
        body = {"id": request.payout_id, "amount": request.amount, "recipient": dict(request.recipient),
                "callback": callback_url}  # fmt: skip
        try:
            answer = await self.http.post(f"{self.base}/payout", json=body, headers=self._auth, timeout=TIMEOUT)
        except httpx.ConnectError as exc:
            raise ProviderUnavailable("connection refused") from exc
        if answer.status_code == 503:
            raise ProviderUnavailable("503 from the provider")
        answer.raise_for_status()
        return str(answer.json()["reference"])

    def parse_payout_callback(self, body: bytes, headers: Mapping[str, str]) -> PayoutOutcome:
        data = self._verified(body, headers)
        return PayoutOutcome(data["payout_id"], PayoutStatus(data["status"]))

    def _verified(self, body: bytes, headers: Mapping[str, str]) -> dict[str, Any]:
        expected = sign(self.account.credentials["api_key"], body)
        if not hmac.compare_digest(headers.get("x-stub-signature", "").encode(), expected.encode()):
            raise CallbackRejected("bad signature")
        data: dict[str, Any] = orjson.loads(body)
        return data

    async def fetch_status(self, attempt: Mapping[Any, Any]) -> Outcome:
        return Outcome(attempt["id"], AttemptStatus.PENDING)

    async def check_credentials(self) -> str:
        try:
            answer = await self.http.get(f"{self.base}/me", headers=self._auth, timeout=TIMEOUT)
        except httpx.ConnectError as exc:
            raise ProviderUnavailable("connection refused") from exc
        if answer.status_code == 401:
            raise CredentialsRefused("the provider refused the key")
        if answer.status_code >= 500:
            raise ProviderUnavailable(f"{answer.status_code} from the provider")
        return f"signed in as {answer.json()['account']}"


def sign(key: str, body: bytes) -> str:
    return hmac.new(key.encode(), body, hashlib.sha256).hexdigest()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def stub_providers(count: int) -> Iterator[list[StubProvider]]:
    """``count`` stub providers, each serving on its own loopback port, and the stub connector registered."""
    stubs = [StubProvider() for _ in range(count)]
    PROVIDERS["stub"] = StubConnector
    try:
        with contextlib.ExitStack() as stack:
            for stub in stubs:
                port = free_port()
                stub.url = stack.enter_context(serving(stub.app(), port))
            yield stubs
    finally:
        PROVIDERS.pop("stub", None)
