"""/utils/payment/methods and /utils/payout/methods: public, outside /v1, from the one catalogue."""

from __future__ import annotations

import httpx

from cauri.domain.methods import CATALOGUE


async def test_payment_methods_need_no_key_and_list_the_catalogue(client: httpx.AsyncClient) -> None:
    response = await client.get("/utils/payment/methods")
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    codes = [m["short_code"] for m in body["data"]]
    assert codes == list(CATALOGUE.payment_methods)
    mtn = next(m for m in body["data"] if m["short_code"] == "mtn_bj")
    assert mtn["name"] == "MTN MoMo Benin"
    assert mtn["currency"]["code"] == "XOF"
    assert [c["code"] for c in mtn["countries"]] == ["BJ"]
    assert mtn["countries"][0]["dial_code"] == "229"
    assert mtn["is_enabled"] is True
    card_usd = next(m for m in body["data"] if m["short_code"] == "card_usd")
    assert len(card_usd["countries"]) > 10  # offered everywhere


async def test_payout_methods_carry_their_fields(client: httpx.AsyncClient) -> None:
    body = (await client.get("/utils/payout/methods")).json()
    demo = next(m for m in body["data"] if m["short_code"] == "moneroo_payout_demo")
    assert demo["fields"][0]["name"] == "account_number"
    mtn = next(m for m in body["data"] if m["short_code"] == "mtn_bj")
    assert mtn["fields"][0]["name"] == "msisdn"
