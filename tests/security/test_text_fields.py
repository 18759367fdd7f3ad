"""NUL and control characters in JSON bodies and query strings are refused with 422 naming the field, and never
stored: PostgreSQL cannot hold a NUL in text or JSON, so one that got in used to break an app's metadata
filter for good (a 500 on every later filtered listing), while SQLite kept it silently."""

from __future__ import annotations

import base64

import httpx
import orjson
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from cauri.connectors.sandbox import SandboxConnector
from cauri.settings import Settings
from cauri.store.tables import attempts, payments, webhook_endpoints
from tests.api.test_payouts import payout_body
from tests.api.test_refunds import STAYS_PENDING, paid_payment
from tests.conftest import MerchantApp, payment_body


async def count(engine: AsyncEngine, table: object) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("metadata", "field"),
    [({"order_id": "12\x003"}, "metadata.order_id"), ({"order_id": "a\x1b[2Jb"}, "metadata.order_id"),
     ({"order_id": "line\r\nbreak"}, "metadata.order_id"), ({"order_id": "\u2028"}, "metadata.order_id"),
     ({"ord\x00er": "1"}, "metadata"), ({"k\x85": "1"}, "metadata")],
)  # fmt: skip
async def test_control_characters_in_metadata_are_refused_and_not_stored(
    client: httpx.AsyncClient, merchant: MerchantApp, engine: AsyncEngine, metadata: dict[str, str], field: str
) -> None:
    before = await count(engine, payments)
    response = await client.post("/v1/payments/initialize", json=payment_body(metadata=metadata),
                                 headers=merchant.headers)  # fmt: skip
    assert response.status_code == 422, response.text
    assert list(response.json()["errors"]) == [field]
    assert "\x00" not in response.text  # the key is not echoed back as a field name
    assert await count(engine, payments) == before
    listed = await client.get("/v1/payments", params={"metadata[order_id]": "123"}, headers=merchant.headers)
    assert listed.status_code == 200


async def test_restricted_phone_number_is_bounded(client: httpx.AsyncClient, merchant: MerchantApp) -> None:
    for number in ("1" * 5000, "12345", "+1234567890123456"):
        body = payment_body(methods=None, restricted_phone={"number": number, "country_code": "BJ"})
        response = await client.post("/v1/payments/initialize", json=body, headers=merchant.headers)
        assert response.status_code == 422, number
        assert list(response.json()["errors"]) == ["restricted_phone.number"]
    body = payment_body(methods=None, restricted_phone={"number": "22951345780", "country_code": "BJ"})
    assert (await client.post("/v1/payments/initialize", json=body, headers=merchant.headers)).status_code == 201


def _cursor(stamp: str, payment_id: str) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([stamp, payment_id])).decode().rstrip("=")


@pytest.mark.parametrize(
    ("params", "field"),
    [({"cursor": _cursor("2024-01-01T00:00:00Z", "py_\x00")}, "cursor"),
     ({"cursor": _cursor("0001-01-01T00:00:00+05:00", "py_x")}, "cursor"), ({"cursor": ""}, "cursor"),
     ({"created_from": "9999-12-31T23:59:59-05:00"}, "created_from"), ({"created_to": "9999-12-31"}, "created_to"),
     ({"created_from": "0001-01-01T00:00:00+05:00"}, "created_from"), ({"limit": "1" * 5000}, "limit"),
     ({"customer_email": "a" * 300 + "@example.com"}, "customer_email"),
     ({"metadata[ord\x00er]": "1"}, "metadata"), ({"metadata[order_id]": "v" * 501}, "metadata[order_id]")],
)  # fmt: skip
async def test_impossible_list_filters_are_refused_with_the_field_named(
    client: httpx.AsyncClient, merchant: MerchantApp, params: dict[str, str], field: str
) -> None:
    response = await client.get("/v1/payments", params=params, headers=merchant.headers)
    assert response.status_code == 422, response.text
    assert list(response.json()["errors"]) == [field]


async def test_an_events_limit_of_thousands_of_digits_is_refused(
    client: httpx.AsyncClient, merchant: MerchantApp
) -> None:
    response = await client.get("/v1/events", params={"limit": "9" * 5000}, headers=merchant.headers)
    assert response.status_code == 422
    assert list(response.json()["errors"]) == ["limit"]


@pytest.mark.parametrize(
    ("body", "field"),
    [({"url": "https://example.com/\x00"}, "url"), ({"url": "https://exa\x00mple.com/"}, "url"),
     ({"url": "https://example.com/a b"}, "url"), ({"url": "https://example.com:99999/"}, "url"),
     ({"url": "http://[::1/hook"}, "url"), ({"url": "https://example.com/", "secret": "s" * 16 + "\x00"}, "secret"),
     ({"url": "https://example.com/", "secret": "s" * 16 + "\r\n"}, "secret")],
)  # fmt: skip
async def test_a_webhook_endpoint_with_control_characters_or_no_valid_url_is_refused(
    client: httpx.AsyncClient, merchant: MerchantApp, engine: AsyncEngine, body: dict[str, str], field: str
) -> None:
    before = await count(engine, webhook_endpoints)
    response = await client.post("/v1/webhooks", json=body, headers=merchant.headers)
    assert response.status_code == 422, response.text
    assert list(response.json()["errors"]) == [field]
    assert await count(engine, webhook_endpoints) == before


@pytest.mark.parametrize(
    "fields",
    [{"attempt_id": "att_\x00"}, {"failure_message": "no\x00pe"}, {"failure_code": "c" * 65},
     {"failure_code": 7}, {"attempt_id": "att_" + "x" * 200}],
)  # fmt: skip
async def test_a_signed_notification_that_cannot_be_stored_is_rejected(
    client: httpx.AsyncClient, engine: AsyncEngine, settings: Settings, fields: dict[str, object]
) -> None:
    """Even a provider holding the secret cannot put a NUL or an oversized code into the database (a 500)."""
    before = await count(engine, attempts)
    body = orjson.dumps({"attempt_id": "att_x", "status": "failed", "failure_code": None, "failure_message": None,
                         **fields})  # fmt: skip
    signature = SandboxConnector(settings.secret, 0).sign(body)
    response = await client.post("/connectors/sandbox/callback", content=body,
                                 headers={"x-sandbox-signature": signature})  # fmt: skip
    assert response.status_code == 400
    assert response.json() == {"received": False, "error": "malformed notification"}
    assert await count(engine, attempts) == before


@pytest.mark.parametrize(
    "fields",
    [{"id": "\x00"}, {"failure_message": "no\x00pe"}, {"failure_code": "c" * 65}, {"failure_code": 7},
     {"failure_message": ["a"]}, {"id": "x" * 200}],
)  # fmt: skip
@pytest.mark.parametrize("kind", ["payout", "refund"])
async def test_a_signed_payout_or_refund_notification_that_cannot_be_stored_is_rejected(
    client: httpx.AsyncClient, engine: AsyncEngine, merchant: MerchantApp, settings: Settings, kind: str,
    fields: dict[str, object],
) -> None:  # fmt: skip
    """As for payments: even a provider holding the secret cannot put a NUL, an oversized code or a non-text
    into the database (a 500, or a failed payout or refund with a broken object), nor end the payout or refund."""
    if kind == "payout":
        created = await client.post("/v1/payouts/initialize", json=payout_body(recipient={"msisdn": STAYS_PENDING}),
                                    headers=merchant.headers)  # fmt: skip
        subject, url = created.json()["data"]["id"], f"/v1/payouts/{created.json()['data']['id']}"
    else:
        payment_id = await paid_payment(client, engine, merchant)
        created = await client.post(f"/v1/payments/{payment_id}/refund", json={}, headers=merchant.headers)
        subject, url = created.json()["data"]["id"], f"/v1/payments/{payment_id}"
    assert created.status_code == 201, created.text
    notice = {"kind": kind, f"{kind}_id": subject, "status": "failed", "failure_code": "x", "failure_message": "y"}
    for name, value in fields.items():
        notice[f"{kind}_id" if name == "id" else name] = value  # type: ignore[assignment]
    body = orjson.dumps(notice)
    signature = SandboxConnector(settings.secret, 0).sign(body)
    response = await client.post(f"/connectors/sandbox/{kind}s/callback", content=body,
                                 headers={"x-sandbox-signature": signature})  # fmt: skip
    assert response.status_code == 400, response.text
    assert response.json() == {"received": False, "error": "malformed notification"}
    shown = (await client.get(url, headers=merchant.headers)).json()["data"]
    assert (shown["status"] if kind == "payout" else shown["refunds"][0]["status"]) == "pending"
