"""Receipts and notices through a real SMTP server in the test (aiosmtpd), in both languages; switches."""

from __future__ import annotations

import email
import email.policy
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from sqlalchemy.ext.asyncio import AsyncEngine

from cauri.connectors.base import Outcome
from cauri.domain.attempts import AttemptStatus
from cauri.domain.clock import utcnow
from cauri.services.apps import configure_emails
from cauri.services.checkout import apply_outcome
from cauri.settings import Settings
from cauri.workers.mail import Mailer
from tests.conftest import MerchantApp, payment_body, record_attempt, runtime_of, uow


@dataclass
class Inbox:
    messages: list[tuple[list[str], EmailMessage]] = field(default_factory=list)

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append((list(envelope.rcpt_tos), parsed))  # type: ignore[arg-type]
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for rcpt, m in self.messages if address in rcpt]


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


@pytest.fixture
def mailing(settings: Settings, smtp: tuple[Inbox, int]) -> Settings:
    return settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": smtp[1], "smtp_security": "none"})


async def paid(
    client: httpx.AsyncClient, engine: AsyncEngine, merchant: MerchantApp, *, locale: str, outcome: AttemptStatus,
    email_address: str = "awa@example.com",
) -> str:  # fmt: skip
    body = payment_body(amount=5000, currency="XOF", methods=["mtn_bj"],
                        customer={"email": email_address, "first_name": "Awa", "last_name": "Dossou"})  # fmt: skip
    response = await client.post("/v1/payments/initialize", json=body, headers=merchant.headers)
    payment_id: str = response.json()["data"]["id"]
    now = utcnow()
    attempt = {
        "id": "att_" + payment_id[3:], "payment_id": payment_id, "method": "mtn_bj", "connector": "sandbox",
        "status": "pending", "phone": "22994149518161", "card_last4": None, "provider_reference": "sbx_1",
        "next_action": None, "failure_code": None, "failure_message": None, "client_ip": "127.0.0.1",
        "user_agent": "test", "locale": locale, "created_at": now, "updated_at": now, "completed_at": None,
    }  # fmt: skip
    await record_attempt(engine, attempt)
    reason = "The customer declined the payment on their phone." if outcome is AttemptStatus.FAILED else None
    assert await apply_outcome(uow(engine), "sandbox", Outcome(attempt["id"], outcome, None, reason))
    return payment_id


def text_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


@pytest.mark.parametrize(
    ("locale", "subject", "amount", "words"),
    [("fr", "Votre reçu de paiement", "5\u202f000\u00a0F\u202fCFA", "Moyen de paiement"),
     ("en", "Your payment receipt", "F\u202fCFA\u00a05,000", "Method")],
)  # fmt: skip
async def test_the_customer_gets_a_receipt_in_their_language(
    client: httpx.AsyncClient, engine: AsyncEngine, merchant: MerchantApp, mailing: Settings,
    smtp: tuple[Inbox, int], locale: str, subject: str, amount: str, words: str,
) -> None:  # fmt: skip
    address = f"{locale}@client.example"
    payment_id = await paid(client, engine, merchant, locale=locale, outcome=AttemptStatus.SUCCESS,
                            email_address=address)  # fmt: skip
    await Mailer(runtime_of(mailing, engine)).run_once()
    [receipt] = smtp[0].to(address)
    assert receipt["Subject"].startswith(subject)
    assert receipt["Content-Language"] == locale
    text = text_of(receipt)
    assert amount in text
    assert "MTN MoMo Benin" in text
    assert payment_id in text
    assert words in text
    html = receipt.get_body(preferencelist=("html",))
    assert html is not None and payment_id in str(html.get_content())


async def test_merchant_notices_follow_the_switches(
    client: httpx.AsyncClient, engine: AsyncEngine, merchant: MerchantApp, mailing: Settings, smtp: tuple[Inbox, int]
) -> None:
    await configure_emails(uow(engine), merchant.id, notify_email="shop@merchant.example", send_receipts=False)
    await paid(client, engine, merchant, locale="fr", outcome=AttemptStatus.SUCCESS, email_address="no@client.example")
    await paid(client, engine, merchant, locale="fr", outcome=AttemptStatus.FAILED, email_address="no@client.example")
    await configure_emails(uow(engine), merchant.id, notify_failures=True)
    await paid(client, engine, merchant, locale="en", outcome=AttemptStatus.FAILED, email_address="no@client.example")
    await Mailer(runtime_of(mailing, engine)).run_once()
    assert smtp[0].to("no@client.example") == []  # receipts switched off
    notices = smtp[0].to("shop@merchant.example")
    subjects = sorted(m["Subject"].split(":")[0] for m in notices)
    assert subjects == ["Paiement reçu", "Tentative de paiement échouée"]  # the first failure was not asked for
    failed = next(m for m in notices if m["Subject"].startswith("Tentative"))
    assert "Le paiement a été refusé sur le téléphone." in text_of(failed)


async def test_without_a_mail_server_messages_are_written_as_files(
    client: httpx.AsyncClient, engine: AsyncEngine, merchant: MerchantApp, settings: Settings, tmp_path: Path
) -> None:
    await paid(
        client, engine, merchant, locale="fr", outcome=AttemptStatus.SUCCESS, email_address="file@client.example"
    )
    await Mailer(runtime_of(settings, engine)).run_once()
    files = list((Path(settings.data_dir) / "mail").glob("*.eml"))
    parsed = [email.message_from_bytes(f.read_bytes(), policy=email.policy.default) for f in files]
    assert any(m["To"] == "file@client.example" for m in parsed)
