"""Receipts and notices: rendered from the event's payment object, in French or English, HTML and text,
sent over SMTP (aiosmtplib) or, by default, written as .eml files so no mail server is needed to try Cauri."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any

import aiosmtplib
from jinja2 import Environment, PackageLoader, select_autoescape

from cauri import metrics
from cauri.domain.clock import utcnow
from cauri.domain.text import one_line
from cauri.domain.webhooks import retry_delay
from cauri.i18n import DEFAULT_LANGUAGE, LANGUAGES, format_money, translate, translations
from cauri.private_files import private_directory, write_private
from cauri.services import webhooks
from cauri.services.runtime import Runtime
from cauri.services.webhooks import EmailClaim
from cauri.settings import Settings

log = logging.getLogger("cauri.workers.mail")

_templates = Environment(
    loader=PackageLoader("cauri.workers", "templates"),
    autoescape=select_autoescape(enabled_extensions=("html",), default=False),
)


def language_of(data: dict[str, Any]) -> str:  # the customer's
    """The language the customer paid in (chosen on the checkout page), French by default."""
    local = ((data.get("capture") or {}).get("context") or {}).get("local")
    return local if local in LANGUAGES else DEFAULT_LANGUAGE


def render(
    kind: str,
    event_type: str,
    data: dict[str, Any],
    app_name: str,
    settings: Settings,
    notice_language: str | None = None,
) -> EmailMessage:
    """``notice_language``: the app's language for its merchant's notices (None: the server's)."""
    language = language_of(data) if kind == "receipt" else notice_language or settings.merchant_language
    gettext = translations(language).gettext
    capture = data.get("capture") or {}
    context = {
        "_": gettext,
        "lang": language,
        "app_name": app_name,
        "amount": format_money(data["amount"], data["currency"]["code"], language),
        "method": (capture.get("method") or {}).get("name") or "",
        "reference": data["id"],
        "description": data["description"],
        "date": (capture.get("completed_at") or data["updated_at"] or "")[:16].replace("T", " ") + " UTC",
        "customer": f"{data['customer']['first_name']} {data['customer']['last_name']}",
        "customer_email": data["customer"]["email"],
        "succeeded": event_type == "payment.success",
        # A connector's failure message is one of its N_ literals, translated here for the reader.
        "failure": translate(language, capture["failure_message"]) if capture.get("failure_message") else None,
    }
    # A header is one line: an app named before names were checked may hold a line break, which the email
    # package refuses in a header (and which would otherwise start a header of the name's choosing).
    header_name = one_line(app_name)
    message = EmailMessage()
    if kind == "receipt":
        message["Subject"] = gettext("Your payment receipt") + f" – {header_name}"
    elif kind == "endpoint_disabled":
        message["Subject"] = gettext("A webhook endpoint was disabled") + f" – {header_name}"
    elif context["succeeded"]:
        message["Subject"] = gettext("Payment received") + f": {context['amount']} ({data['id']})"
    else:
        message["Subject"] = gettext("Payment attempt failed") + f": {context['amount']} ({data['id']})"
    message["From"] = settings.mail_from
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid(domain="cauri.invalid")
    message.set_content(_templates.get_template(f"{kind}.txt").render(context))
    message.add_alternative(_templates.get_template(f"{kind}.html").render(context), subtype="html")
    # After the body: ``set_content`` clears every Content-* header, so one set before it never left.
    message["Content-Language"] = language
    return message


async def send(message: EmailMessage, to_address: str, message_id: str, settings: Settings) -> None:
    message["To"] = one_line(to_address)
    if not settings.smtp_host:
        folder = private_directory(Path(settings.data_dir) / "mail")  # mail to customers: their names, amounts
        write_private(folder / f"{message_id}.eml", bytes(message))
        return
    await aiosmtplib.send(
        message,
        hostname=settings.smtp_host,
        port=settings.smtp_port,
        username=settings.smtp_username or None,
        password=settings.smtp_password or None,
        use_tls=settings.smtp_security == "tls",
        start_tls=settings.smtp_security == "starttls",
        timeout=settings.webhook_timeout_seconds,
    )


class Mailer:
    """Sends the emails of the outbox, in its own loop: a slow or failing SMTP server delays only mail."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.settings = runtime.settings

    async def run_once(self) -> int:
        """Send the emails due now; returns how many were tried."""
        lease = utcnow() + timedelta(seconds=self.settings.dispatcher_lease_seconds)
        claims = await webhooks.claim_emails(self.runtime.uow(), lease, self.settings.dispatcher_batch)
        await asyncio.gather(*(self.send(claim) for claim in claims))
        return len(claims)

    async def send(self, claim: EmailClaim) -> None:
        error = None
        try:
            message = render(claim.kind, claim.event_type, claim.data, claim.app_name, self.settings,
                             claim.notice_language)  # fmt: skip
            await send(message, claim.to_address, claim.id, self.settings)
        except Exception as exc:  # an SMTP refusal, a timeout, a template bug: retried, recorded
            error = f"{type(exc).__name__}: {exc}"[:500]
            log.warning("email failed", extra={"email_id": claim.id, "error": error})
        delay = retry_delay(claim.attempts, self.settings.webhook_retry_scale) if error else None
        next_at = utcnow() + delay if delay else None
        await webhooks.record_email(self.runtime.uow(), claim, error=error, next_attempt_at=next_at)
        metrics.count_email("sent" if error is None else "retry" if delay else "failed")

    async def run_forever(self) -> None:
        # Mail needs no sub-second latency: an idle mailer looks once a second at most.
        idle = max(self.settings.dispatcher_poll_seconds, 1.0)
        while True:
            try:
                if not await self.run_once():
                    await asyncio.sleep(idle)
            except Exception:
                log.exception("mail pass failed")
                await asyncio.sleep(idle)
