"""The faces in French: texts written elsewhere (method kinds, the sandbox's outcomes, the form's errors, an
attempt's failure message) arrive translated, like the templates' own literals."""

from __future__ import annotations

import html

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from cauri.domain.clock import utcnow
from tests.conftest import MerchantApp, payment_body, record_attempt

FRENCH = {"Accept-Language": "fr-FR,fr;q=0.9"}


async def test_the_checkout_page_translates_what_comes_from_elsewhere(
    client: httpx.AsyncClient, merchant: MerchantApp, engine: AsyncEngine
) -> None:
    created = await client.post(
        "/v1/payments/initialize",
        json=payment_body(currency="XOF", amount=5000, methods=["mtn_bj", "card_xof"]),
        headers=merchant.headers,
    )
    payment_id = created.json()["data"]["id"]
    page = await client.get(f"/checkout/{payment_id}", headers=FRENCH)
    text = html.unescape(page.text)
    assert "Choisissez comment payer" in text
    assert "Carte bancaire" in text and "Mobile money" in text  # the kinds' labels
    assert "<td>réussi</td>" in text and "<td>échoué</td>" in text and "<td>reste en attente</td>" in text

    token = page.text.split('name="csrf" value="')[1].split('"')[0]
    form = {"csrf": token, "method": "card_xof", "card_number": "1234", "card_expiry": "13/99", "card_cvc": "1"}
    refused = await client.post(f"/checkout/{payment_id}/pay", data=form, headers=FRENCH)
    assert refused.status_code == 422
    errors = html.unescape(refused.text)  # the service's messages
    assert "Vérifiez le numéro de carte." in errors
    assert "Vérifiez la date d'expiration (MM/AA)." in errors
    assert "Vérifiez le code de sécurité." in errors
    assert "Check the" not in errors

    now = utcnow()
    await record_attempt(
        engine,
        {
            "id": f"att_{payment_id[3:]}", "payment_id": payment_id, "method": "card_xof", "connector": "sandbox",
            "status": "failed", "phone": None, "card_last4": "0002", "provider_reference": None,
            "next_action": None, "failure_code": "declined", "failure_message": "The card was declined.",
            "client_ip": "127.0.0.1", "user_agent": "test", "locale": "fr", "created_at": now, "updated_at": now,
            "completed_at": now,
        },
    )  # fmt: skip
    failed = html.unescape((await client.get(f"/checkout/{payment_id}", headers=FRENCH)).text)
    assert "La dernière tentative a échoué : La carte a été refusée. Vous pouvez réessayer." in failed

    english = html.unescape((await client.get(f"/checkout/{payment_id}?lang=en")).text)
    assert "The last attempt failed: The card was declined. You can try again." in english
    assert "Bank card" in english and "<td>pending</td>" in english
