"""``Client`` and ``AsyncClient``: the payments and payouts APIs, with timeouts, retries and idempotency keys."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx

from cauri_client._envelope import unwrap as _unwrap
from cauri_client._errors import APIConnectionError, CauriError
from cauri_client._models import Balance, InitializedPayment, Payment, Refund
from cauri_client._payouts import AsyncPayouts, Payouts

DEFAULT_BASE_URL = "http://127.0.0.1:8000/v1"  # Cauri's embedded default; Moneroo's is https://api.moneroo.io/v1
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


def _backoff(attempt: int, base: float, retry_after: str | None) -> float:
    if retry_after is not None and retry_after.isdigit():
        return min(float(retry_after), 60.0)
    return base * float(2**attempt) * random.uniform(0.5, 1.0)  # noqa: S311 - jitter


def _initialize_body(
    amount: int, currency: str, description: str, return_url: str, customer: dict[str, Any], extra: dict[str, Any]
) -> dict[str, Any]:
    body = {
        "amount": amount,
        "currency": currency,
        "description": description,
        "return_url": return_url,
        "customer": customer,
    }
    body.update({k: v for k, v in extra.items() if v is not None})
    return body


class Client:
    """A synchronous client. ``base_url`` ends with ``/v1``: Cauri's (default) or Moneroo's.

    Requests that fail with 429, 5xx or a connection error are retried with exponential backoff (honouring
    ``Retry-After``); it is safe for ``initialize`` because each call sends one ``Idempotency-Key`` for all
    its tries.
    """

    def __init__(
        self,
        secret_key: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float = 30.0,
        max_retries: int = 3,
        backoff: float = 0.5,
        http_client: httpx.Client | None = None,
    ) -> None:
        self._http = http_client or httpx.Client(timeout=timeout)
        self._base = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {secret_key}", "Accept": "application/json"}
        self._max_retries = max_retries
        self._backoff = backoff
        self.payments = Payments(self)
        self.payouts = Payouts(self)

    def __enter__(self) -> Client:
        return self

    def balances(self) -> list[Balance]:
        """The app's balances, one per currency (a Cauri extension)."""
        return [Balance.from_json(b) for b in self.request("GET", "/balances")]

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def request(self, method: str, path: str, *, json: Any = None, params: Any = None, key: str | None = None) -> Any:
        headers = dict(self._headers)
        if key is not None:
            headers["Idempotency-Key"] = key
        for attempt in range(self._max_retries + 1):
            try:
                response = self._http.request(method, self._base + path, json=json, params=params, headers=headers)
            except httpx.TransportError as exc:
                if attempt == self._max_retries:
                    raise APIConnectionError(f"Could not reach the API: {exc}") from exc
                time.sleep(_backoff(attempt, self._backoff, None))
                continue
            if response.status_code in RETRY_STATUSES and attempt < self._max_retries:
                time.sleep(_backoff(attempt, self._backoff, response.headers.get("retry-after")))
                continue
            return _unwrap(response)
        raise CauriError("unreachable")  # pragma: no cover


class Payments:
    def __init__(self, client: Client) -> None:
        self._client = client

    def initialize(
        self,
        *,
        amount: int,
        currency: str,
        description: str,
        return_url: str,
        customer: dict[str, Any],
        metadata: dict[str, str] | None = None,
        methods: list[str] | None = None,
        restrict_country_code: str | None = None,
        restricted_phone: dict[str, str] | None = None,
        idempotency_key: str | None = None,
    ) -> InitializedPayment:
        """Create a payment; redirect the customer to the returned ``checkout_url``."""
        extra = {"metadata": metadata, "methods": methods, "restrict_country_code": restrict_country_code,
                 "restricted_phone": restricted_phone}  # fmt: skip
        body = _initialize_body(amount, currency, description, return_url, customer, extra)
        data = self._client.request("POST", "/payments/initialize", json=body, key=idempotency_key or str(uuid.uuid4()))
        return InitializedPayment(id=data["id"], checkout_url=data["checkout_url"])

    def verify(self, payment_id: str) -> Payment:
        """The payment's state, from the server: always check it before delivering."""
        return Payment.from_json(self._client.request("GET", f"/payments/{payment_id}/verify"))

    def retrieve(self, payment_id: str) -> Payment:
        return Payment.from_json(self._client.request("GET", f"/payments/{payment_id}"))

    def process(self, payment_id: str) -> Payment:
        """Mark a paid payment as processed (delivered); repeating it is harmless."""
        return Payment.from_json(self._client.request("POST", f"/payments/{payment_id}/process", key=str(uuid.uuid4())))

    def refund(
        self, payment_id: str, *, amount: int | None = None, reason: str | None = None,
        idempotency_key: str | None = None,
    ) -> Refund:  # fmt: skip
        """Refund a paid payment, ``amount`` of it (all that is left when None); a Cauri extension."""
        body = _refund_body(amount, reason)
        key = idempotency_key or str(uuid.uuid4())
        return Refund.from_json(self._client.request("POST", f"/payments/{payment_id}/refund", json=body, key=key))

    def list(self, *, limit: int = 50, **filters: str) -> Iterator[Payment]:
        """Every payment matching ``filters`` (``status``, ``customer_email``, ``created_from``…; metadata as
        ``**{"metadata[order_id]": "124"}``), newest first, fetching pages as it goes (a Cauri extension)."""
        params: dict[str, Any] = {**filters, "limit": limit}
        while True:
            response = self._client._http.get(
                self._client._base + "/payments", params=params, headers=self._client._headers
            )
            items = _unwrap(response)
            yield from (Payment.from_json(item) for item in items)
            cursor = response.json().get("meta", {}).get("next_cursor")
            if not cursor:
                return
            params["cursor"] = cursor


class AsyncClient:
    """The same API for asyncio code (FastAPI, Starlette…)."""

    def __init__(
        self,
        secret_key: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float = 30.0,
        max_retries: int = 3,
        backoff: float = 0.5,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        self._http = http_client or httpx.AsyncClient(timeout=timeout)
        self._base = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {secret_key}", "Accept": "application/json"}
        self._max_retries = max_retries
        self._backoff = backoff
        self.payments = AsyncPayments(self)
        self.payouts = AsyncPayouts(self)

    async def balances(self) -> list[Balance]:
        return [Balance.from_json(b) for b in await self.request("GET", "/balances")]

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def request(
        self, method: str, path: str, *, json: Any = None, params: Any = None, key: str | None = None
    ) -> Any:
        headers = dict(self._headers)
        if key is not None:
            headers["Idempotency-Key"] = key
        for attempt in range(self._max_retries + 1):
            try:
                response = await self._http.request(
                    method, self._base + path, json=json, params=params, headers=headers
                )
            except httpx.TransportError as exc:
                if attempt == self._max_retries:
                    raise APIConnectionError(f"Could not reach the API: {exc}") from exc
                await asyncio.sleep(_backoff(attempt, self._backoff, None))
                continue
            if response.status_code in RETRY_STATUSES and attempt < self._max_retries:
                await asyncio.sleep(_backoff(attempt, self._backoff, response.headers.get("retry-after")))
                continue
            return _unwrap(response)
        raise CauriError("unreachable")  # pragma: no cover


class AsyncPayments:
    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def initialize(
        self,
        *,
        amount: int,
        currency: str,
        description: str,
        return_url: str,
        customer: dict[str, Any],
        metadata: dict[str, str] | None = None,
        methods: list[str] | None = None,
        restrict_country_code: str | None = None,
        restricted_phone: dict[str, str] | None = None,
        idempotency_key: str | None = None,
    ) -> InitializedPayment:
        extra = {"metadata": metadata, "methods": methods, "restrict_country_code": restrict_country_code,
                 "restricted_phone": restricted_phone}  # fmt: skip
        body = _initialize_body(amount, currency, description, return_url, customer, extra)
        data = await self._client.request(
            "POST", "/payments/initialize", json=body, key=idempotency_key or str(uuid.uuid4())
        )
        return InitializedPayment(id=data["id"], checkout_url=data["checkout_url"])

    async def verify(self, payment_id: str) -> Payment:
        return Payment.from_json(await self._client.request("GET", f"/payments/{payment_id}/verify"))

    async def retrieve(self, payment_id: str) -> Payment:
        return Payment.from_json(await self._client.request("GET", f"/payments/{payment_id}"))

    async def process(self, payment_id: str) -> Payment:
        data = await self._client.request("POST", f"/payments/{payment_id}/process", key=str(uuid.uuid4()))
        return Payment.from_json(data)

    async def refund(
        self, payment_id: str, *, amount: int | None = None, reason: str | None = None,
        idempotency_key: str | None = None,
    ) -> Refund:  # fmt: skip
        body = _refund_body(amount, reason)
        key = idempotency_key or str(uuid.uuid4())
        return Refund.from_json(
            await self._client.request("POST", f"/payments/{payment_id}/refund", json=body, key=key)
        )

    async def list(self, *, limit: int = 50, **filters: str) -> AsyncIterator[Payment]:
        params: dict[str, Any] = {**filters, "limit": limit}
        while True:
            response = await self._client._http.get(
                self._client._base + "/payments", params=params, headers=self._client._headers
            )
            for item in _unwrap(response):
                yield Payment.from_json(item)
            cursor = response.json().get("meta", {}).get("next_cursor")
            if not cursor:
                return
            params["cursor"] = cursor


def _refund_body(amount: int | None, reason: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if amount is not None:
        body["amount"] = amount
    if reason is not None:
        body["reason"] = reason
    return body
