"""Ids from paths and query strings that Cauri never issues (NUL and control characters included) are not
found or refused with the field named, on both databases; they never reach the database as a 500."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import MerchantApp


@pytest.mark.parametrize(
    "path",
    ["/v1/payments/py_%00x/verify", "/v1/payments/py%01", "/v1/deliveries/evt_%00:we_x", "/checkout/py_%00x",
     "/checkout/py_%00x/status"],
)  # fmt: skip
async def test_an_impossible_id_in_a_path_is_not_found(
    client: httpx.AsyncClient, merchant: MerchantApp, path: str
) -> None:
    response = await client.get(path, headers=merchant.headers)
    assert response.status_code == 404, response.text


async def test_an_impossible_id_in_delete_and_resend_is_not_found(
    client: httpx.AsyncClient, merchant: MerchantApp
) -> None:
    deleted = await client.delete("/v1/webhooks/we_%00", headers=merchant.headers)
    assert deleted.status_code == 404
    assert deleted.json()["message"] == "Webhook endpoint not found."
    resent = await client.post("/v1/events/evt_%00/resend", headers=merchant.headers)
    assert resent.status_code == 404


@pytest.mark.parametrize(
    ("query", "field"),
    [("/v1/events?before=%23i%C2%8D%00%7D", "before"), ("/v1/payments?customer_email=a%00@b.c", "customer_email"),
     ("/v1/payments?metadata[order]=1%002", "metadata[order]")],
)  # fmt: skip
async def test_control_characters_in_a_query_are_refused_with_the_field_named(
    client: httpx.AsyncClient, merchant: MerchantApp, query: str, field: str
) -> None:
    response = await client.get(query, headers=merchant.headers)
    assert response.status_code == 422, response.text
    assert list(response.json()["errors"]) == [field]


async def test_another_apps_event_id_does_not_page_this_apps_events(client: httpx.AsyncClient, engine: object) -> None:
    """``before`` is looked up within the caller's app: another app's event reveals nothing, moves nothing."""
    from tests.conftest import new_merchant, payment_body

    mine, theirs = await new_merchant(engine), await new_merchant(engine)  # type: ignore[arg-type]

    async def initiated(merchant: MerchantApp) -> str:
        await client.post("/v1/payments/initialize", json=payment_body(), headers=merchant.headers)
        events = (await client.get("/v1/events", params={"limit": 1}, headers=merchant.headers)).json()["data"]
        return str(events[0]["id"])

    first = await initiated(mine)
    foreign = await initiated(theirs)
    second = await initiated(mine)
    listed = await client.get("/v1/events", params={"before": foreign}, headers=mine.headers)
    assert [e["id"] for e in listed.json()["data"]] == [second, first]
