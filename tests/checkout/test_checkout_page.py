"""The checkout page's form posts without a browser: the processor's page for live cards (and only a safe one),
the network found by the server when no script chose it, leaving a waiting attempt, the card verification
shown once; and the rules the page is drawn from (names, countries, networks)."""

from __future__ import annotations

import html
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from cauri.app import create_app
from cauri.checkout.view import countries_of, display_name, guess_country, safe_redirect
from cauri.connectors.base import ActionKind, AttemptRequest, NextAction, Outcome, ProviderConnector, Started
from cauri.connectors.providers import PROVIDERS
from cauri.domain.attempts import AttemptStatus
from cauri.domain.clock import utcnow
from cauri.domain.methods import CATALOGUE
from cauri.domain.networks import predict_network
from cauri.settings import Settings
from cauri.store.tables import attempts, events
from tests.conftest import MerchantApp, new_merchant, payment_body, record_attempt

METHODS = list(CATALOGUE.payment_methods.values())


def token(page: httpx.Response) -> str:
    return page.text.split('name="csrf" value="')[1].split('"')[0]


async def pay(client: httpx.AsyncClient, payment_id: str, **form: str) -> httpx.Response:
    page = await client.get(f"/checkout/{payment_id}")
    return await client.post(f"/checkout/{payment_id}/pay", data={"csrf": token(page), **form})


class HostedCardPage(ProviderConnector):
    """A live card processor that pays on its own page: the edge of the system, as its API would answer. The
    gateway builds one per account, so what it was asked and where it sends the customer live on the class."""

    provider = "hosted_cards"
    credential_fields = ("api_key",)
    payment_methods = frozenset({"card_xof"})
    url: ClassVar[str] = ""
    requests: ClassVar[list[AttemptRequest]] = []

    async def start(self, request: AttemptRequest, callback_url: str) -> Started:
        HostedCardPage.requests.append(request)
        return Started("proc_1", NextAction(ActionKind.REDIRECT, {"url": HostedCardPage.url}))

    def parse_callback(self, body: bytes, headers: Mapping[str, str]) -> Outcome:
        raise NotImplementedError

    async def fetch_status(self, attempt: Mapping[Any, Any]) -> Outcome:
        return Outcome(attempt["id"], AttemptStatus.PENDING)

    async def check_credentials(self) -> str:
        return "ok"


@pytest.fixture
def hosted_cards() -> Iterator[type[HostedCardPage]]:
    PROVIDERS[HostedCardPage.provider] = HostedCardPage
    HostedCardPage.requests = []
    yield HostedCardPage
    PROVIDERS.pop(HostedCardPage.provider, None)


@pytest.mark.parametrize(
    ("url", "sent_to_processor"),
    [
        ("https://pay.processor.example/s/abc?x=1", True),
        ("http://127.0.0.1:9/hosted", True),  # a local simulator
        ("http://pay.processor.example/s/abc", False),  # in clear over the network
        ("javascript:alert(1)", False),
        ("https://user:pass@pay.processor.example/", False),
        ("//evil.example/", False),
    ],
)
async def test_live_cards_go_to_the_processors_page_only_when_it_is_safe(
    settings: Settings, engine: AsyncEngine, hosted_cards: type[HostedCardPage], url: str, sent_to_processor: bool
) -> None:
    live = await new_merchant(engine, live=True)
    app = create_app(settings, engine)
    hosted_cards.url = url
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://cauri.test") as client:
        account = {"provider": "hosted_cards", "label": "Cards", "credentials": {"api_key": "k"}}
        assert (await client.post("/v1/providers", json=account, headers=live.headers)).status_code == 201
        created = await client.post(
            "/v1/payments/initialize", json=payment_body(currency="XOF", amount=5000, methods=["card_xof"]),
            headers=live.headers,
        )  # fmt: skip
        payment_id = created.json()["data"]["id"]
        page = await client.get(f"/checkout/{payment_id}?lang=en")
        assert 'id="card_number"' not in page.text  # Cauri never asks for a live card's number
        assert "secure page of the card processor" in page.text
        paid = await pay(client, payment_id, method="card_xof")
        assert paid.status_code == 303
        assert paid.headers["location"] == (url if sent_to_processor else f"/checkout/{payment_id}")
        assert hosted_cards.requests[0].card_number is None
        back = await client.get(f"/checkout/{payment_id}?lang=en")  # the processor sends the customer back
        assert 'id="waiting"' in back.text and "Finish on your card" in back.text
        assert ('href="' + html.escape(url) + '"' in back.text) is sent_to_processor


async def test_without_a_chosen_network_the_server_finds_it_from_the_number(
    client: httpx.AsyncClient, merchant: MerchantApp, engine: AsyncEngine
) -> None:
    created = await client.post(
        "/v1/payments/initialize", json=payment_body(currency="XOF", methods=["mtn_bj", "moov_bj"]),
        headers=merchant.headers,
    )  # fmt: skip
    payment_id = created.json()["data"]["id"]
    unknown = await pay(client, payment_id, phone="4149518161", region="BJ")  # a test number: no operator
    assert unknown.status_code == 422 and "Choisissez votre réseau." in html.unescape(unknown.text)
    assert 'value="4149518161"' in unknown.text  # kept as typed
    found = await pay(client, payment_id, phone="01 45 00 00 00", region="BJ")
    assert found.status_code == 303
    async with engine.connect() as conn:
        query = select(attempts.c.method, attempts.c.phone).where(attempts.c.payment_id == payment_id)
        row = (await conn.execute(query)).one()
    assert tuple(row) == ("moov_bj", "2290145000000")


async def test_leaving_a_waiting_attempt_keeps_the_payment_open(
    client: httpx.AsyncClient, merchant: MerchantApp, engine: AsyncEngine
) -> None:
    created = await client.post(
        "/v1/payments/initialize", json=payment_body(currency="XOF", methods=["mtn_bj"]), headers=merchant.headers
    )
    payment_id = created.json()["data"]["id"]
    assert (await pay(client, payment_id, method="mtn_bj", phone="4149518163")).status_code == 303
    waiting = await client.get(f"/checkout/{payment_id}")
    assert 'id="retry"' in waiting.text and 'id="cancel"' in waiting.text
    assert (await client.post(f"/checkout/{payment_id}/retry", data={"csrf": "forged"})).status_code == 403
    left = await client.post(f"/checkout/{payment_id}/retry", data={"csrf": token(waiting)})
    assert left.status_code == 303
    again = await client.get(f"/checkout/{payment_id}")
    assert 'id="pay"' in again.text and 'id="failure"' not in again.text
    async with engine.connect() as conn:
        query = select(attempts.c.status, attempts.c.failure_code).where(attempts.c.payment_id == payment_id)
        status = (await conn.execute(query)).one()
        types = list((await conn.execute(select(events.c.type).where(events.c.payment_id == payment_id))).scalars())
    assert tuple(status) == ("failed", "abandoned")
    assert types == ["payment.initiated", "payment.failed"]
    # Nothing left to leave: a second post changes nothing.
    await client.post(f"/checkout/{payment_id}/retry", data={"csrf": token(waiting)})
    async with engine.connect() as conn:
        assert len((await conn.execute(select(events.c.id).where(events.c.payment_id == payment_id))).all()) == 2


async def test_the_card_verification_is_offered_once(client: httpx.AsyncClient, merchant: MerchantApp) -> None:
    created = await client.post(
        "/v1/payments/initialize", json=payment_body(currency="XOF", methods=["card_xof"]), headers=merchant.headers
    )
    payment_id = created.json()["data"]["id"]
    form = {"method": "card_xof", "card_number": "4000000000000259", "card_expiry": "12/39", "card_cvc": "123",
            "country": "CI"}  # fmt: skip
    paid = await pay(client, payment_id, **form)
    assert paid.headers["location"] == f"/checkout/{payment_id}/authenticate"
    # Until answered, the payment page is the verification page.
    assert (await client.get(f"/checkout/{payment_id}")).headers.get("location", "").endswith("/authenticate")
    step = await client.get(f"/checkout/{payment_id}/authenticate")
    answered = await client.post(f"/checkout/{payment_id}/authenticate", data={"csrf": token(step),
                                                                                 "decision": "approve"})  # fmt: skip
    assert answered.status_code == 303
    page = await client.get(f"/checkout/{payment_id}?lang=en")
    assert page.status_code == 200 and 'id="waiting"' in page.text and "/authenticate" not in page.text
    assert (await client.get(f"/checkout/{payment_id}/authenticate")).status_code == 303


def test_method_names_speak_the_customers_language() -> None:
    codes = ("mtn_bj", "orange_sn", "moov_ci", "card_xof", "bank_transfer_ng", "qr_ngn", "mpesa_ke", "zamtel_zm")
    names = {code: display_name(CATALOGUE.payment_methods[code], "fr") for code in codes}
    assert names == {
        "mtn_bj": "MTN MoMo", "orange_sn": "Orange Money", "moov_ci": "Moov Money", "card_xof": "Carte bancaire",
        "bank_transfer_ng": "Virement bancaire", "qr_ngn": "Code QR", "mpesa_ke": "M-Pesa",
        "zamtel_zm": "Zamtel Kwacha",
    }  # fmt: skip
    assert display_name(CATALOGUE.payment_methods["card_xof"], "en") == "Bank card"


def test_the_country_is_asked_only_when_it_changes_what_is_offered() -> None:
    xof = [m for m in METHODS if m.currency == "XOF"]
    assert countries_of(xof) == ["BF", "BJ", "CI", "GW", "ML", "NE", "SN", "TG"]
    assert countries_of([CATALOGUE.payment_methods["card_xof"]]) == []  # the same card everywhere
    assert countries_of([CATALOGUE.payment_methods["mtn_bj"]]) == []
    customer = {"country_code": "SN"}
    ask = {"phone_region": None, "accept_language": "fr-CI,fr;q=0.9"}
    assert guess_country(xof, asked="tg", customer=customer, **ask) == "TG"  # the page's own choice first
    assert guess_country(xof, asked=None, customer=customer, **ask) == "SN"
    assert guess_country(xof, asked=None, customer={}, **ask) == "CI"
    assert guess_country(xof, asked=None, customer={}, phone_region=None, accept_language="fr-FR") is None
    mtn_and_card = [CATALOGUE.payment_methods["mtn_bj"], CATALOGUE.payment_methods["card_xof"]]
    assert guess_country(mtn_and_card, asked=None, customer={}, phone_region=None, accept_language="en") == "BJ"


@pytest.mark.parametrize(
    ("number", "region", "expected"),
    [
        ("01 97 00 00 00", "BJ", "mtn_bj"),
        ("+229 01 45 00 00 00", "BJ", "moov_bj"),
        ("0022901 97 00 00 00", "BJ", "mtn_bj"),
        ("07 07 00 00 00", "CI", "orange_ci"),
        ("77 123 45 67", "SN", "orange_sn"),
        ("0803 123 4567", "NG", "mtn_ng"),
        ("0712 345678", "KE", "mpesa_ke"),
        ("4149518161", "BJ", None),  # the sandbox's numbers belong to no operator
        ("+225 07 07 00 00 00", "BJ", None),  # an Ivorian number for Benin's methods
    ],
)
def test_the_network_is_predicted_from_the_number(number: str, region: str, expected: str | None) -> None:
    assert predict_network(number, region, METHODS) == expected


def test_only_safe_processor_pages_are_followed() -> None:
    assert safe_redirect("https://pay.example/x") == "https://pay.example/x"
    for bad in ("http://pay.example/x", "https://pay.example/\nx", "ftp://pay.example", None, 3, "https:///x"):
        assert safe_redirect(bad) is None


async def test_the_customers_known_number_chooses_the_country_and_the_network(
    client: httpx.AsyncClient, merchant: MerchantApp
) -> None:
    customer = {"email": "a@example.com", "first_name": "A", "last_name": "B", "phone": "+229 01 97 00 00 00"}
    created = await client.post(
        "/v1/payments/initialize", json=payment_body(currency="XOF", customer=customer, methods=None),
        headers=merchant.headers,
    )  # fmt: skip
    page = await client.get(f"/checkout/{created.json()['data']['id']}", headers={"Accept-Language": "fr-SN"})
    assert '<option value="BJ" selected>' in page.text  # the number's country, before the language's
    assert 'value="01 97 00 00 00"' in page.text  # as written beside the "+229"
    assert 'value="mtn_bj" checked' in page.text


async def test_another_language_keeps_the_step(client: httpx.AsyncClient, merchant: MerchantApp) -> None:
    created = await client.post(
        "/v1/payments/initialize", json=payment_body(currency="XOF", methods=None), headers=merchant.headers
    )
    payment_id = created.json()["data"]["id"]
    page = await client.get(f"/checkout/{payment_id}?country=TG&kind=card", headers={"Accept-Language": "fr"})
    assert f'href="/checkout/{payment_id}?country=TG&amp;kind=card&amp;lang=en"' in page.text
    refused = await pay(client, payment_id, method="mtn_bj", phone="1")  # rendered by the form's post
    assert f'href="/checkout/{payment_id}?lang=en"' in refused.text


async def test_after_a_failed_card_the_page_opens_on_cards(
    client: httpx.AsyncClient, merchant: MerchantApp, engine: AsyncEngine
) -> None:
    created = await client.post(
        "/v1/payments/initialize", json=payment_body(currency="XOF", methods=["mtn_bj", "card_xof"]),
        headers=merchant.headers,
    )  # fmt: skip
    payment_id = created.json()["data"]["id"]
    assert 'id="phone"' in (await client.get(f"/checkout/{payment_id}")).text  # mobile money first
    now = utcnow()
    await record_attempt(
        engine,
        {
            "id": f"att_{payment_id[3:]}", "payment_id": payment_id, "method": "card_xof", "connector": "sandbox",
            "status": "failed", "phone": None, "card_last4": "0002", "provider_reference": None,
            "next_action": None, "failure_code": "declined", "failure_message": "The card was declined.",
            "client_ip": "127.0.0.1", "user_agent": "test", "locale": "en", "created_at": now, "updated_at": now,
            "completed_at": now,
        },
    )  # fmt: skip
    page = await client.get(f"/checkout/{payment_id}?lang=en")
    assert 'id="failure"' in page.text and 'id="card_number"' in page.text and 'id="phone"' not in page.text
