"""``/v1/payouts`` on each database: the official PHP SDK's calls as it makes them, the contract's rules in the
envelope, scoping, idempotency and the list."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from cauri.store.tables import payouts
from tests.conftest import MerchantApp, new_merchant

#: Exactly what Moneroo's PHP SDK sends for ``Payout::init`` (Guzzle's ``json`` option: a compact body).
PHP_BODY = (
    b'{"amount":500,"currency":"XOF","description":"Supplier payment #7","method":"mtn_bj",'
    b'"customer":{"email":"awa@example.com","first_name":"Awa","last_name":"Dossou"},'
    b'"recipient":{"msisdn":"22951345020"},"metadata":{"payout_request":"123","customer_id":"42"}}'
)
PHP_HEADERS = {"Content-Type": "application/json", "User-Agent": "Moneroo PHP SDK v0.3"}


def payout_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = orjson.loads(PHP_BODY)
    for key, value in overrides.items():
        if value is None:
            body.pop(key, None)
        else:
            body[key] = value
    return body


async def count_payouts(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(payouts))).scalar_one())


async def test_the_php_sdks_init_verify_and_get(client: httpx.AsyncClient, merchant: MerchantApp) -> None:
    created = await client.post("/v1/payouts/initialize", content=PHP_BODY, headers={**merchant.headers, **PHP_HEADERS})
    assert created.status_code == 201, created.text
    answer = created.json()
    assert answer["success"] is True and answer["errors"] is None
    assert answer["message"] == "Payout transaction initialized successfully"
    assert set(answer["data"]) == {"id"} and answer["data"]["id"].startswith("po_")
    payout_id = answer["data"]["id"]

    # The SDK's GETs carry a JSON body "[]": ignored.
    verified = await client.request("GET", f"/v1/payouts/{payout_id}/verify", content=b"[]",
                                    headers={**merchant.headers, **PHP_HEADERS})  # fmt: skip
    assert verified.status_code == 200
    assert verified.json()["message"] == "Payout transaction fetched successfully"
    payout = verified.json()["data"]
    assert (payout["id"], payout["amount"], payout["currency"]["code"]) == (payout_id, 500, "XOF")
    assert payout["status"] == "pending"  # handed to the sandbox, whose verdict comes asynchronously
    assert payout["metadata"] == {"payout_request": "123", "customer_id": "42"}
    assert payout["environment"] == "sandbox" and payout["amount_formatted"] == "XOF 500"
    assert payout["customer"]["email"] == "awa@example.com"
    disburse = payout["disburse"]
    assert disburse["method"]["short_code"] == "mtn_bj" and disburse["method"]["name"] == "MTN MoMo Benin"
    assert disburse["recipient"] == {"msisdn": "22951345020"}
    assert disburse["gateway"]["short_code"] == "sandbox" and disburse["gateway"]["transaction_id"]
    assert disburse["failure_message"] is None
    assert payout["pending_at"] is not None and payout["success_at"] is None and payout["failed_at"] is None
    got = await client.request("GET", f"/v1/payouts/{payout_id}", content=b"[]", headers=merchant.headers)
    assert got.json()["data"]["id"] == payout_id


async def test_invalid_requests_are_refused_in_the_envelope_naming_each_field(
    client: httpx.AsyncClient, merchant: MerchantApp, engine: AsyncEngine
) -> None:
    before = await count_payouts(engine)
    refused = await client.post("/v1/payouts/initialize", json={"amount": -5, "method": "visa"},
                                headers=merchant.headers)  # fmt: skip
    assert refused.status_code == 422
    answer = refused.json()
    assert answer["success"] is False and answer["data"] is None
    assert set(answer["errors"]) == {"amount", "currency", "description", "method", "customer", "recipient"}
    assert answer["message"] == "The amount field must be greater than 0. (and 5 more errors)"

    wrong_country = await client.post("/v1/payouts/initialize", headers=merchant.headers,
                                      json=payout_body(recipient={"msisdn": "22551345020"}))  # fmt: skip
    assert wrong_country.status_code == 422
    assert list(wrong_country.json()["errors"]) == ["recipient.msisdn"]
    for body in (b"[1, 2]", b"{not json", b'{"amount": 500, "recipient": "x", "customer": []}'):
        answer = await client.post("/v1/payouts/initialize", content=body, headers=merchant.headers)
        assert answer.status_code in (400, 422), answer.text
    assert await count_payouts(engine) == before  # nothing half-written


async def test_the_test_method_pays_to_an_account_number(client: httpx.AsyncClient, merchant: MerchantApp) -> None:
    body = payout_body(method="moneroo_payout_demo", currency="USD", recipient={"account_number": "4149518161"})
    created = await client.post("/v1/payouts/initialize", json=body, headers=merchant.headers)
    assert created.status_code == 201, created.text
    payout_id = created.json()["data"]["id"]
    payout = (await client.get(f"/v1/payouts/{payout_id}", headers=merchant.headers)).json()["data"]
    assert payout["disburse"]["recipient"] == {"account_number": "4149518161"}


async def test_payouts_are_scoped_to_their_app_and_environment(
    client: httpx.AsyncClient, merchant: MerchantApp, engine: AsyncEngine
) -> None:
    created = await client.post("/v1/payouts/initialize", json=payout_body(), headers=merchant.headers)
    payout_id = created.json()["data"]["id"]
    stranger = await new_merchant(engine)
    for path in (f"/v1/payouts/{payout_id}", f"/v1/payouts/{payout_id}/verify"):
        missing = await client.get(path, headers=stranger.headers)
        assert missing.status_code == 404 and missing.json()["message"] == "Payout transaction not found."
    assert (await client.get("/v1/payouts", headers=stranger.headers)).json()["data"] == []
    assert (await client.get("/v1/payouts/po_%01", headers=merchant.headers)).status_code == 404
    assert (await client.get("/v1/payouts/initialize", headers=merchant.headers)).status_code == 405
    assert (await client.get(f"/v1/payouts/{payout_id}")).status_code == 401


async def test_live_payouts_need_a_provider(client: httpx.AsyncClient, engine: AsyncEngine) -> None:
    live = await new_merchant(engine, live=True)
    body = payout_body(recipient={"msisdn": "2290151345020"})
    refused = await client.post("/v1/payouts/initialize", json=body, headers=live.headers)
    assert refused.status_code == 422
    assert refused.json()["errors"] == {
        "method": ["No provider is set up to pay out with mtn_bj in the live environment."]
    }
    assert (await client.get("/v1/payouts", headers=live.headers)).json()["data"] == []
    # Live, the sandbox's test numbers are not numbers of Benin.
    test_number = await client.post("/v1/payouts/initialize", headers=live.headers,
                                    json=payout_body(recipient={"msisdn": "4149518161"}))  # fmt: skip
    assert list(test_number.json()["errors"]) == ["recipient.msisdn"]


async def test_an_idempotency_key_creates_one_payout(
    client: httpx.AsyncClient, merchant: MerchantApp, engine: AsyncEngine
) -> None:
    headers = {**merchant.headers, "Idempotency-Key": "payout-7"}
    before = await count_payouts(engine)
    first = await client.post("/v1/payouts/initialize", json=payout_body(), headers=headers)
    again = await client.post("/v1/payouts/initialize", json=payout_body(), headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.content == first.content and again.headers["idempotent-replayed"] == "true"
    assert await count_payouts(engine) == before + 1
    other = await client.post("/v1/payouts/initialize", json=payout_body(amount=900), headers=headers)
    assert other.status_code == 422 and "Idempotency-Key" in other.json()["errors"]
    # The same key on the payments' initialize is another request.
    assert await count_payouts(engine) == before + 1


async def test_the_list_pages_and_filters_like_the_payments_list(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    merchant = await new_merchant(engine)
    ids = []
    for n in range(3):
        body = payout_body(metadata={"batch": str(n)}, customer={"email": f"p{n}@example.com", "first_name": "P",
                                                                 "last_name": "Q"})  # fmt: skip
        ids.append(
            (await client.post("/v1/payouts/initialize", json=body, headers=merchant.headers)).json()["data"]["id"]
        )
    first = (await client.get("/v1/payouts", params={"limit": 2}, headers=merchant.headers)).json()
    assert [p["id"] for p in first["data"]] == [ids[2], ids[1]] and first["meta"]["has_more"]
    rest = await client.get("/v1/payouts", params={"limit": 2, "cursor": first["meta"]["next_cursor"]},
                            headers=merchant.headers)  # fmt: skip
    assert [p["id"] for p in rest.json()["data"]] == [ids[0]] and rest.json()["meta"]["next_cursor"] is None
    by_meta = await client.get("/v1/payouts", params={"metadata[batch]": "1"}, headers=merchant.headers)
    assert [p["id"] for p in by_meta.json()["data"]] == [ids[1]]
    by_email = await client.get("/v1/payouts", params={"customer_email": "P2@example.com"}, headers=merchant.headers)
    assert [p["id"] for p in by_email.json()["data"]] == [ids[2]]
    pending = await client.get("/v1/payouts", params={"status": "pending,success"}, headers=merchant.headers)
    assert len(pending.json()["data"]) == 3
    cancelled = await client.get("/v1/payouts", params={"status": "cancelled"}, headers=merchant.headers)
    assert cancelled.status_code == 422
    assert cancelled.json()["errors"] == {
        "status": ["The status field must be one of: initiated, pending, success, failed."]
    }


async def test_endpoints_may_subscribe_to_payout_events(client: httpx.AsyncClient, merchant: MerchantApp) -> None:
    events = ["payout.success", "payout.failed"]
    added = await client.post("/v1/webhooks", headers=merchant.headers,
                              json={"url": "http://127.0.0.1:9/hooks", "events": events})  # fmt: skip
    assert added.status_code == 201, added.text
    assert added.json()["data"]["events"] == events
    unknown = await client.post("/v1/webhooks", headers=merchant.headers,
                                json={"url": "http://127.0.0.1:9/hooks", "events": ["payout.cancelled"]})  # fmt: skip
    assert unknown.status_code == 422
