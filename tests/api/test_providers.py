"""``/v1/providers``: an app's provider accounts, created, listed and deleted with its secret key; credentials
never come back out, and each refusal names its field."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from cauri.connectors.providers import PROVIDERS
from tests.conftest import MerchantApp, new_merchant
from tests.providers_stub import StubConnector

BODY = {"provider": "stub", "label": "Main", "credentials": {"api_key": "sk_test_9fQ2mZx7Lp4"}}


@pytest.fixture(autouse=True)
def stub_installed() -> Iterator[None]:
    PROVIDERS["stub"] = StubConnector
    yield
    PROVIDERS.pop("stub", None)


async def create(client: httpx.AsyncClient, merchant: MerchantApp, **changes: Any) -> httpx.Response:
    body = {**BODY, **changes}
    return await client.post("/v1/providers", json={k: v for k, v in body.items() if v is not None},
                             headers=merchant.headers)  # fmt: skip


async def test_an_account_is_created_listed_and_deleted_without_its_credentials(
    client: httpx.AsyncClient, merchant: MerchantApp
) -> None:
    created = await create(client, merchant, methods=["mtn_bj"], priority=5, base_url="https://stub.example/api")
    assert created.status_code == 201, created.text
    account = created.json()["data"]
    assert account["id"].startswith("pa_")
    assert {k: account[k] for k in ("provider", "label", "environment", "sandbox", "methods", "priority")} == {
        "provider": "stub", "label": "Main", "environment": "sandbox", "sandbox": True, "methods": ["mtn_bj"],
        "priority": 5,
    }  # fmt: skip
    assert "sk_test_9fQ2mZx7Lp4" not in created.text and "credentials" not in account
    listed = await client.get("/v1/providers", headers=merchant.headers)
    assert [a["id"] for a in listed.json()["data"]] == [account["id"]]
    assert "sk_test_9fQ2mZx7Lp4" not in listed.text

    deleted = await client.delete(f"/v1/providers/{account['id']}", headers=merchant.headers)
    assert deleted.status_code == 200 and deleted.json()["data"] is None
    assert (await client.get("/v1/providers", headers=merchant.headers)).json()["data"] == []
    again = await client.delete(f"/v1/providers/{account['id']}", headers=merchant.headers)
    assert again.status_code == 404


async def test_accounts_belong_to_one_app_and_one_environment(
    client: httpx.AsyncClient, engine: AsyncEngine, merchant: MerchantApp
) -> None:
    account = (await create(client, merchant)).json()["data"]
    other = await new_merchant(engine)
    live = await new_merchant(engine, live=True)
    assert (await client.get("/v1/providers", headers=other.headers)).json()["data"] == []
    assert (await client.delete(f"/v1/providers/{account['id']}", headers=other.headers)).status_code == 404
    assert (await client.get("/v1/providers", headers=merchant.headers)).json()["data"][0]["id"] == account["id"]
    live_account = (await create(client, live)).json()["data"]
    assert live_account["environment"] == "live" and live_account["sandbox"] is False


async def test_listing_follows_the_routing_order(client: httpx.AsyncClient, merchant: MerchantApp) -> None:
    for label, priority in (("Backup", 50), ("First", 1), ("Second", 50)):
        assert (await create(client, merchant, label=label, priority=priority)).status_code == 201
    listed = (await client.get("/v1/providers", headers=merchant.headers)).json()["data"]
    assert [a["label"] for a in listed] == ["First", "Backup", "Second"]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"provider": "nonesuch"}, "provider"),
        ({"provider": None}, "provider"),
        ({"label": None}, "label"),
        ({"label": "  "}, "label"),
        ({"label": "x" * 101}, "label"),
        ({"credentials": None}, "credentials"),
        ({"credentials": {}}, "credentials.api_key"),
        ({"credentials": {"api_key": ""}}, "credentials.api_key"),
        ({"credentials": {"api_key": "k", "extra": "pasted-secret"}}, "credentials"),
        ({"credentials": {"api_key": 42}}, "credentials.api_key"),
        ({"sandbox": False}, "sandbox"),  # a sandbox key never moves real money
        ({"sandbox": "yes"}, "sandbox"),
        ({"methods": []}, "methods"),
        ({"methods": ["wave_sn"]}, "methods"),  # not a method the provider serves
        ({"methods": "mtn_bj"}, "methods"),
        ({"priority": -1}, "priority"),
        ({"priority": True}, "priority"),
        ({"priority": 1.5}, "priority"),
        ({"base_url": "http://stub.example"}, "base_url"),  # plain http only to this machine
        ({"base_url": "ftp://127.0.0.1"}, "base_url"),
        ({"base_url": "https://user:pw@stub.example"}, "base_url"),
        ({"base_url": "https://stub.example:99999"}, "base_url"),
        ({"base_url": 7}, "base_url"),
    ],
)
async def test_a_refused_account_names_its_field_and_stores_nothing(
    client: httpx.AsyncClient, merchant: MerchantApp, changes: dict[str, Any], field: str
) -> None:
    refused = await create(client, merchant, **changes)
    assert refused.status_code == 422, refused.text
    assert field in refused.json()["errors"]
    assert "pasted-secret" not in refused.text
    assert (await client.get("/v1/providers", headers=merchant.headers)).json()["data"] == []


async def test_a_label_is_unique_among_the_apps_accounts(client: httpx.AsyncClient, merchant: MerchantApp) -> None:
    assert (await create(client, merchant)).status_code == 201
    again = await create(client, merchant)
    assert again.status_code == 422 and "label" in again.json()["errors"]


async def test_loopback_http_is_accepted_for_simulators(client: httpx.AsyncClient, merchant: MerchantApp) -> None:
    for url in ("http://127.0.0.1:8123", "http://localhost:9/v2", "http://[::1]:80"):
        created = await create(client, merchant, label=url, base_url=url)
        assert created.status_code == 201, created.text
        assert created.json()["data"]["base_url"] == url


async def test_the_routes_need_the_apps_key(client: httpx.AsyncClient) -> None:
    assert (await client.get("/v1/providers")).status_code == 401
    assert (await client.post("/v1/providers", json=BODY)).status_code == 401
    assert (await client.delete("/v1/providers/pa_0000000000000000")).status_code == 401


async def test_an_app_has_a_bounded_number_of_accounts(client: httpx.AsyncClient, merchant: MerchantApp) -> None:
    from cauri.domain.providers import MAX_ACCOUNTS

    for n in range(MAX_ACCOUNTS):
        assert (await create(client, merchant, label=f"Account {n}")).status_code == 201
    refused = await create(client, merchant, label="One too many")
    assert refused.status_code == 422 and f"at most {MAX_ACCOUNTS}" in refused.json()["message"]


async def test_an_optional_credential_may_be_given_or_left_out(
    client: httpx.AsyncClient, merchant: MerchantApp
) -> None:
    """FedaPay's separate payout webhook has its own secret: an account may keep it, and needs it not."""
    required = {"secret_key": "sk_sandbox_a1b2c3", "webhook_secret": "wh_sandbox_d4e5f6"}
    without = await create(client, merchant, provider="fedapay", label="One webhook", credentials=required)
    assert without.status_code == 201, without.text
    both = {**required, "payout_webhook_secret": "wh_sandbox_g7h8i9"}
    with_it = await create(client, merchant, provider="fedapay", label="Two webhooks", credentials=both)
    assert with_it.status_code == 201, with_it.text
    assert "wh_sandbox_g7h8i9" not in with_it.text
    only_optional = await create(client, merchant, provider="fedapay", label="Three",
                                 credentials={"payout_webhook_secret": "wh_sandbox_g7h8i9", "other": "x"})  # fmt: skip
    errors = only_optional.json()["errors"]
    assert errors["credentials.secret_key"] == ["The credentials.secret_key field is required."]
    assert errors["credentials"] == [
        "The credentials field takes only: secret_key, webhook_secret, payout_webhook_secret."
    ]
