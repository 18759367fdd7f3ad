"""``/v1/rates``: listed to any key holder with the pegs and each rate's freshness; set by the gateway's operator
with its own token, never with an app's key."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncEngine

from cauri.api.openapi import openapi_document
from cauri.app import create_app
from cauri.services.rates import set_rate
from cauri.settings import Settings
from cauri.store.tables import rates
from tests.api.test_response_schemas import Contract
from tests.conftest import MerchantApp, uow

OPERATOR = "op-" + "x" * 40


@pytest.fixture
async def clean(engine: AsyncEngine) -> AsyncIterator[AsyncEngine]:
    """Rates are global and the test database is shared: none before, none after."""
    async with engine.begin() as conn:
        await conn.execute(delete(rates))
    yield engine
    async with engine.begin() as conn:
        await conn.execute(delete(rates))


async def test_rates_are_listed_to_a_key_holder(
    client: httpx.AsyncClient, merchant: MerchantApp, clean: AsyncEngine
) -> None:
    await set_rate(uow(clean), "USD", "NGN", "1550.25")
    answer = await client.get("/v1/rates", headers=merchant.headers)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["message"] == "Rates fetched successfully"
    assert [(r["base"], r["quote"], r["rate"], r["source"], r["fresh"]) for r in body["data"]] == [
        ("EUR", "XAF", "655.957", "peg", True),
        ("EUR", "XOF", "655.957", "peg", True),
        ("USD", "NGN", "1550.25", "operator", True),
    ]


async def test_rates_want_a_key(client: httpx.AsyncClient, clean: AsyncEngine) -> None:
    answer = await client.get("/v1/rates", headers={"Accept": "application/json"})
    assert answer.status_code == 401
    assert answer.json()["message"]  # the envelope, not a bare error page


@pytest.fixture
async def operated(settings: Settings, clean: AsyncEngine) -> AsyncIterator[httpx.AsyncClient]:
    """The gateway with an operator's token set."""
    app = create_app(settings.model_copy(update={"operator_token": OPERATOR}), clean)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://cauri.test") as client:
        yield client


async def test_the_operator_sets_a_rate_that_every_app_then_converts_with(
    operated: httpx.AsyncClient, merchant: MerchantApp, caplog: pytest.LogCaptureFixture
) -> None:
    contract = Contract(openapi_document("http://cauri.test"))
    operator = {"Authorization": f"Bearer {OPERATOR}"}
    answer = await operated.put("/v1/rates/usd/NGN", json={"rate": "1550.25"}, headers=operator)
    body = contract.check(answer, "put", "/v1/rates/{base}/{quote}", 200)
    assert body["message"] == "Rate set successfully"
    assert {k: body["data"][k] for k in ("base", "quote", "rate", "source", "fresh")} == {
        "base": "USD", "quote": "NGN", "rate": "1550.25", "source": "operator", "fresh": True,
    }  # fmt: skip
    [said] = [r for r in caplog.records if r.getMessage() == "operator rate set over the API"]
    assert (said.base, said.quote, said.rate, said.client) == ("USD", "NGN", "1550.25", "127.0.0.1")  # type: ignore[attr-defined]
    again = await operated.put("/v1/rates/USD/NGN", json={"rate": "1601"}, headers=operator)  # replaces it
    assert again.status_code == 200, again.text
    listed = (await operated.get("/v1/rates", headers=merchant.headers)).json()["data"]
    assert [(r["base"], r["quote"], r["rate"]) for r in listed if r["source"] == "operator"] == [("USD", "NGN", "1601")]


@pytest.mark.parametrize(
    ("body", "path", "fields"),
    [
        ({"rate": 1550.25}, "/v1/rates/USD/NGN", ["rate"]),  # a JSON number is a float: exact text only
        ({"rate": "1e3"}, "/v1/rates/USD/NGN", ["rate"]),
        ({"rate": "0"}, "/v1/rates/USD/NGN", ["rate"]),
        ({}, "/v1/rates/USD/NGN", ["rate"]),
        ({"rate": "700"}, "/v1/rates/EUR/XOF", ["quote"]),  # pegged by law
        ({"rate": "1"}, "/v1/rates/USD/USD", ["quote"]),
        ({"rate": "1"}, "/v1/rates/ZZZ/NGN", ["base"]),
        ({"rate": "x"}, "/v1/rates/USD/QQQ", ["quote", "rate"]),
    ],
)
async def test_a_bad_rate_is_refused_with_its_field_named_and_nothing_stored(
    operated: httpx.AsyncClient, merchant: MerchantApp, body: dict[str, object], path: str, fields: list[str]
) -> None:
    answer = await operated.put(path, json=body, headers={"Authorization": f"Bearer {OPERATOR}"})
    assert answer.status_code == 422, answer.text
    assert sorted(answer.json()["errors"]) == fields
    listed = (await operated.get("/v1/rates", headers=merchant.headers)).json()["data"]
    assert [r for r in listed if r["source"] != "peg"] == []


async def test_an_apps_key_or_a_wrong_token_never_sets_a_rate(
    operated: httpx.AsyncClient, client: httpx.AsyncClient, merchant: MerchantApp
) -> None:
    for headers in (merchant.headers, {"Authorization": "Bearer " + "y" * 43}, {}):
        answer = await operated.put("/v1/rates/USD/NGN", json={"rate": "1550.25"}, headers=headers)
        assert answer.status_code == 401 and answer.json()["success"] is False, answer.text
    off = await client.put(  # a gateway whose operator set no token: the operation is off
        "/v1/rates/USD/NGN", json={"rate": "1550.25"}, headers={"Authorization": f"Bearer {OPERATOR}"}
    )
    assert off.status_code == 403 and "CAURI_OPERATOR_TOKEN" in off.json()["message"]
    listed = (await operated.get("/v1/rates", headers=merchant.headers)).json()["data"]
    assert [r for r in listed if r["source"] != "peg"] == []


async def test_wrong_operator_tokens_are_throttled(settings: Settings, clean: AsyncEngine) -> None:
    update = {"operator_token": OPERATOR, "auth_failures_per_minute": 3}
    app = create_app(settings.model_copy(update=update), clean)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://cauri.test") as client:
        codes = [
            (
                await client.put("/v1/rates/USD/NGN", json={"rate": "1"}, headers={"Authorization": f"Bearer g{n}"})
            ).status_code
            for n in range(4)
        ]
        assert codes == [401, 401, 401, 429]
        right = await client.put(
            "/v1/rates/USD/NGN", json={"rate": "1"}, headers={"Authorization": f"Bearer {OPERATOR}"}
        )
        assert right.status_code == 429, "the address is throttled before any token is compared"


async def test_a_tiny_rate_answers_in_the_plain_decimal_form_the_api_takes(
    operated: httpx.AsyncClient, merchant: MerchantApp
) -> None:
    answer = await operated.put("/v1/rates/NGN/USD", json={"rate": "0.0000001"},
                                headers={"Authorization": f"Bearer {OPERATOR}"})  # fmt: skip
    assert answer.status_code == 200 and answer.json()["data"]["rate"] == "0.0000001", answer.text  # not "1E-7"


def test_a_refused_operator_token_is_never_echoed() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError) as caught:
        Settings(operator_token="hunter2 almost the secret")  # a typo: too short, and a space
    assert "operator_token" in str(caught.value) and "hunter2" not in str(caught.value)
