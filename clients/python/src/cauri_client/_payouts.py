"""``client.payouts``: Moneroo's payout API (initialize, verify, retrieve) and Cauri's list."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

from cauri_client._envelope import unwrap
from cauri_client._models import InitializedPayout, Payout

if TYPE_CHECKING:
    from cauri_client._client import AsyncClient, Client


def _payout_body(
    amount: int,
    currency: str,
    description: str,
    method: str,
    customer: dict[str, Any],
    recipient: dict[str, str],
    metadata: dict[str, str] | None,
) -> dict[str, Any]:
    body: dict[str, Any] = {"amount": amount, "currency": currency, "description": description, "method": method,
                            "customer": customer, "recipient": recipient}  # fmt: skip
    if metadata is not None:
        body["metadata"] = metadata
    return body


class Payouts:
    def __init__(self, client: Client) -> None:
        self._client = client

    def initialize(
        self,
        *,
        amount: int,
        currency: str,
        description: str,
        method: str,
        customer: dict[str, Any],
        recipient: dict[str, str],
        metadata: dict[str, str] | None = None,
        idempotency_key: str | None = None,
    ) -> InitializedPayout:
        """Send money: ``recipient`` holds what the method needs (``{"msisdn": "22951345020"}`` for mobile
        money). The outcome comes later: verify the payout, or wait for its webhook."""
        body = _payout_body(amount, currency, description, method, customer, recipient, metadata)
        data = self._client.request("POST", "/payouts/initialize", json=body, key=idempotency_key or str(uuid.uuid4()))
        return InitializedPayout(id=data["id"])

    def verify(self, payout_id: str) -> Payout:
        """The payout's state, from the server."""
        return Payout.from_json(self._client.request("GET", f"/payouts/{payout_id}/verify"))

    def retrieve(self, payout_id: str) -> Payout:
        return Payout.from_json(self._client.request("GET", f"/payouts/{payout_id}"))

    def list(self, *, limit: int = 50, **filters: str) -> Iterator[Payout]:
        """Every payout matching ``filters`` (``status``, ``customer_email``, ``created_from``…; metadata as
        ``**{"metadata[batch]": "7"}``), newest first, fetching pages as it goes (a Cauri extension)."""
        params: dict[str, Any] = {**filters, "limit": limit}
        while True:
            response = self._client._http.get(
                self._client._base + "/payouts", params=params, headers=self._client._headers
            )
            yield from (Payout.from_json(item) for item in unwrap(response))
            cursor = response.json().get("meta", {}).get("next_cursor")
            if not cursor:
                return
            params["cursor"] = cursor


class AsyncPayouts:
    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def initialize(
        self,
        *,
        amount: int,
        currency: str,
        description: str,
        method: str,
        customer: dict[str, Any],
        recipient: dict[str, str],
        metadata: dict[str, str] | None = None,
        idempotency_key: str | None = None,
    ) -> InitializedPayout:
        body = _payout_body(amount, currency, description, method, customer, recipient, metadata)
        data = await self._client.request(
            "POST", "/payouts/initialize", json=body, key=idempotency_key or str(uuid.uuid4())
        )
        return InitializedPayout(id=data["id"])

    async def verify(self, payout_id: str) -> Payout:
        return Payout.from_json(await self._client.request("GET", f"/payouts/{payout_id}/verify"))

    async def retrieve(self, payout_id: str) -> Payout:
        return Payout.from_json(await self._client.request("GET", f"/payouts/{payout_id}"))

    async def list(self, *, limit: int = 50, **filters: str) -> AsyncIterator[Payout]:
        params: dict[str, Any] = {**filters, "limit": limit}
        while True:
            response = await self._client._http.get(
                self._client._base + "/payouts", params=params, headers=self._client._headers
            )
            for item in unwrap(response):
                yield Payout.from_json(item)
            cursor = response.json().get("meta", {}).get("next_cursor")
            if not cursor:
                return
            params["cursor"] = cursor
