"""Merchant text is text: a name with Rich markup, an escape sequence or a line break is refused where it would
do harm, and shown as it is everywhere else — by the CLI, in a mail header, on the checkout page.

Rows written before names were checked ("legacy" rows, made here by writing to the database directly) must
not break the CLI or the mail either."""

from __future__ import annotations

import email
import email.policy
import json
import socket
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from cauri.domain.attempts import AttemptStatus
from cauri.domain.errors import ValidationFailed
from cauri.domain.payments import Environment
from cauri.domain.text import has_control_characters, one_line, visible
from cauri.services.apps import configure_emails, create_app
from cauri.settings import Settings
from cauri.store.tables import apps
from cauri.workers.mail import Mailer
from tests.cli.test_cli import cauri
from tests.conftest import MerchantApp, payment_body, runtime_of, uow
from tests.outbox.test_emails import Inbox, paid

MARKUP = "[/bold]x [red]Shop[/red] [link=https://evil.example]y"
HOSTILE_NAMES = [
    "Shop\r\nBcc: victim@example.com",
    "Shop\nX",
    "Shop\x00",
    "Shop\x1b[2J",
    "Shop\u2028X",
    "Shop\x85X",
    " ",
    "x" * 101,
]


@pytest.fixture
def env(env_without_cauri: dict[str, str], tmp_path: Path) -> dict[str, str]:
    return {**env_without_cauri, "CAURI_DATA_DIR": str(tmp_path / "data"), "CAURI_LOG_LEVEL": "warning"}


# -- the rule ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["\r", "\n", "\x00", "\x1b", "\x7f", "\x85", "\u2028", "\u2029", "\udcff"])
def test_control_characters_are_seen_and_kept_out_of_one_line(text: str) -> None:
    assert has_control_characters(f"a{text}b")
    assert one_line(f"a{text}{text}b ") == "a b"
    assert visible(f"a{text}b").isprintable()


def test_ordinary_text_is_left_alone() -> None:
    for text in ["Boutique Awa", "Café « Chez Ngozi » — 5\u202f000\u00a0F", "[/bold]x", "شركة", "店"]:
        assert not has_control_characters(text)
        assert one_line(text) == text == visible(text)


# -- creating an app -----------------------------------------------------------------------------------------


async def app_count(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(apps))).scalar_one())


@pytest.mark.parametrize("name", HOSTILE_NAMES)
async def test_an_app_name_with_control_characters_or_out_of_bounds_is_refused_before_anything_is_stored(
    engine: AsyncEngine, name: str
) -> None:
    before = await app_count(engine)
    with pytest.raises(ValidationFailed) as refused:
        await create_app(uow(engine), name, Environment.SANDBOX, rate_limit=0, expiry_minutes=10)
    assert refused.value.errors is not None and list(refused.value.errors.by_field) == ["name"]
    assert await app_count(engine) == before


async def test_an_app_name_is_trimmed_and_may_be_100_characters_of_any_script(engine: AsyncEngine) -> None:
    long_name = "Boutique «Café» 店 " + "x" * 82
    app, _ = await create_app(uow(engine), f"  {long_name}  ", Environment.SANDBOX, rate_limit=0, expiry_minutes=10)
    assert app.name == long_name and len(app.name) == 100  # the column's size, on PostgreSQL too
    marked, _ = await create_app(uow(engine), MARKUP, Environment.SANDBOX, rate_limit=0, expiry_minutes=10)
    assert marked.name == MARKUP  # markup is text like any other: it is the printing that must not obey it


@pytest.mark.parametrize("url", ["javascript:alert(1)", "https://shop.example/\r\nX", "shop.example", "http://[::1"])
async def test_a_website_url_must_be_an_http_url(engine: AsyncEngine, url: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        await create_app(uow(engine), "Shop", Environment.SANDBOX, rate_limit=0, expiry_minutes=10, website_url=url)
    assert refused.value.errors is not None and list(refused.value.errors.by_field) == ["website_url"]


@pytest.mark.parametrize("address", ["ops@merchant.example\r\nBcc: victim@example.com", "not an address"])
async def test_the_notices_address_must_be_an_email_address(
    engine: AsyncEngine, merchant: MerchantApp, address: str
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        await configure_emails(uow(engine), merchant.id, notify_email=address)
    assert refused.value.errors is not None and list(refused.value.errors.by_field) == ["notify_email"]
    done = await configure_emails(uow(engine), merchant.id, notify_email="Ops@Merchant.Example")
    assert done.notify_email == "Ops@merchant.example"


# -- the CLI -------------------------------------------------------------------------------------------------


def test_the_cli_prints_a_name_with_markup_as_it_is_and_the_key_is_not_lost(env: dict[str, str]) -> None:
    created = cauri("apps", "create", MARKUP, env=env)
    assert created.returncode == 0, created.stderr
    assert created.stdout.strip().startswith("pvk_sandbox_")  # the key, shown once, is shown
    assert MARKUP in created.stderr
    listed = cauri("apps", "list", env=env)
    assert listed.returncode == 0, listed.stderr
    assert "[/bold]x" in listed.stdout
    configured = cauri("apps", "configure", MARKUP, "--no-receipts", env=env)
    assert configured.returncode == 0, configured.stderr
    assert configured.stderr.startswith(MARKUP + ": receipts off")
    rotated = cauri("keys", "rotate", MARKUP, env=env)
    assert rotated.returncode == 0 and rotated.stdout.startswith("pvk_sandbox_"), rotated.stderr
    missing = cauri("keys", "rotate", "[/nope]", env=env)  # the error message quotes what was typed
    assert missing.returncode == 1 and "[/nope]" in missing.stderr and "Traceback" not in missing.stderr


def test_the_cli_refuses_a_name_with_a_line_break_and_stores_nothing(env: dict[str, str]) -> None:
    refused = cauri("apps", "create", "Shop\r\nX", env=env)
    assert refused.returncode == 1
    assert "error: The name field must not contain control characters." in refused.stderr
    assert "pvk_" not in refused.stdout
    too_long = cauri("apps", "create", "x" * 101, env=env)
    assert too_long.returncode == 1 and "100 characters" in too_long.stderr
    assert json.loads(cauri("apps", "list", "--json", env=env).stdout) == []


def test_the_cli_shows_a_legacy_name_escape_sequences_spelt_out(env: dict[str, str], tmp_path: Path) -> None:
    created = json.loads(cauri("apps", "create", "Shop", "--json", env=env).stdout)
    legacy = "[/bold]\x1b[2J\r\nShop"
    with sqlite3.connect(tmp_path / "data" / "cauri.db") as db:
        db.execute("UPDATE apps SET name = ? WHERE id = ?", (legacy, created["id"]))
    listed = cauri("apps", "list", env=env)
    assert listed.returncode == 0, listed.stderr
    assert "\x1b" not in listed.stdout  # the terminal is not told to clear its screen
    assert "[/bold]\\x1b[2J\\r\\nShop" in listed.stdout
    configured = cauri("apps", "configure", created["id"], "--notices", env=env)
    assert configured.returncode == 0, configured.stderr
    assert "\x1b" not in configured.stderr and "\\x1b[2J" in configured.stderr


# -- mail ------------------------------------------------------------------------------------------------------


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


async def rename(engine: AsyncEngine, app_id: str, name: str) -> None:
    """A name written before names were checked."""
    async with engine.begin() as conn:
        await conn.execute(update(apps).where(apps.c.id == app_id).values(name=name))


async def test_a_legacy_name_with_a_line_break_still_gets_its_receipts_sent(
    client: httpx.AsyncClient, engine: AsyncEngine, merchant: MerchantApp, settings: Settings,
    smtp: tuple[Inbox, int],
) -> None:  # fmt: skip
    await rename(engine, merchant.id, "Shop\r\nBcc: victim@example.com\u2028X")
    # The database is shared: other tests' mail may go out in the same run, so this receipt is found by its
    # own address (and any message to it must have no other recipient).
    address = f"legacy-{merchant.id.lower()}@client.example"
    await paid(client, engine, merchant, locale="en", outcome=AttemptStatus.SUCCESS, email_address=address)
    mailing = settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": smtp[1], "smtp_security": "none"})
    await Mailer(runtime_of(mailing, engine)).run_once()
    [(recipients, receipt)] = [(to, m) for to, m in smtp[0].messages if address in to]
    assert recipients == [address]  # nobody added by the name
    assert receipt["Subject"] == "Your payment receipt – Shop Bcc: victim@example.com X"
    assert receipt["Bcc"] is None


async def test_a_legacy_name_with_a_line_break_still_gets_its_receipts_written(
    client: httpx.AsyncClient, engine: AsyncEngine, merchant: MerchantApp, settings: Settings
) -> None:
    await rename(engine, merchant.id, "Shop\r\nBcc: victim@example.com")
    await paid(client, engine, merchant, locale="fr", outcome=AttemptStatus.SUCCESS, email_address="b@client.example")
    await Mailer(runtime_of(settings, engine)).run_once()
    [written] = (Path(settings.data_dir) / "mail").glob("*.eml")
    receipt = email.message_from_bytes(written.read_bytes(), policy=email.policy.default)
    assert receipt["To"] == "b@client.example" and receipt["Bcc"] is None
    assert receipt["Subject"] == "Votre reçu de paiement – Shop Bcc: victim@example.com"


async def test_merchant_and_customer_text_is_escaped_in_the_html_of_a_receipt(
    client: httpx.AsyncClient, engine: AsyncEngine, merchant: MerchantApp, settings: Settings
) -> None:
    await rename(engine, merchant.id, "<img src=x onerror=alert(1)>")
    await paid(client, engine, merchant, locale="en", outcome=AttemptStatus.SUCCESS, email_address="c@client.example")
    await Mailer(runtime_of(settings, engine)).run_once()
    [written] = (Path(settings.data_dir) / "mail").glob("*.eml")
    receipt = email.message_from_bytes(written.read_bytes(), policy=email.policy.default)
    html = receipt.get_body(preferencelist=("html",))
    assert html is not None
    content = str(html.get_content())
    assert "&lt;img src=x onerror=alert(1)&gt;" in content and "<img" not in content


async def test_a_name_with_html_is_escaped_on_the_checkout_page(
    client: httpx.AsyncClient, engine: AsyncEngine, merchant: MerchantApp
) -> None:
    await rename(engine, merchant.id, "</title><script>alert(1)</script>")
    created = await client.post(
        "/v1/payments/initialize", json=payment_body(description="<b>bold</b>"), headers=merchant.headers
    )
    page = await client.get(f"/checkout/{created.json()['data']['id']}")
    assert page.status_code == 200
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;/title&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "<b>bold</b>" not in page.text
