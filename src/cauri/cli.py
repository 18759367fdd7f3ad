"""The ``cauri`` command: serve, migrate, and the apps, keys and rates admin."""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import os
import sys
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Annotated, Any, TypeVar

import orjson
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from cauri import metrics
from cauri.domain.apps import App, Scope
from cauri.domain.errors import DomainError
from cauri.domain.keys import NewKey
from cauri.domain.ledger import Balance
from cauri.domain.payments import Environment, PaymentFilter
from cauri.domain.payout_representation import Payout
from cauri.domain.payouts import PayoutStatus
from cauri.domain.rates import decimal_text
from cauri.domain.representation import Event, WebhookEndpoint
from cauri.domain.text import visible
from cauri.services import apps as app_service
from cauri.services import balances as balance_service
from cauri.services import payouts as payout_service
from cauri.services import providers as provider_service
from cauri.services import rates as rate_service
from cauri.services import users as user_service
from cauri.services import webhooks as webhook_service
from cauri.services.runtime import Runtime, create_runtime
from cauri.services.runtime import migrate as upgrade
from cauri.settings import Settings

T = TypeVar("T")

cli = typer.Typer(
    help="Cauri: a self-hostable payment gateway, wire-compatible with Moneroo's v1 API.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # a crash must not print a key it held
)
apps_cli = typer.Typer(help="Create and list apps (each has sandbox and live keys).", no_args_is_help=True)
keys_cli = typer.Typer(help="Rotate and revoke secret keys.", no_args_is_help=True)
cli.add_typer(apps_cli, name="apps")
cli.add_typer(keys_cli, name="keys")
webhooks_cli = typer.Typer(
    help="Webhook endpoints (signed, retried deliveries of payment events).", no_args_is_help=True
)
cli.add_typer(webhooks_cli, name="webhooks")
rates_cli = typer.Typer(help="Exchange rates for payments paid in another currency.", no_args_is_help=True)
cli.add_typer(rates_cli, name="rates")
providers_cli = typer.Typer(
    help="Accounts at real providers, which live payments are routed to (credentials read from standard input "
    "or CAURI_CREDENTIAL_<FIELD> variables, never from the command line).",
    no_args_is_help=True,
)
cli.add_typer(providers_cli, name="providers")
# Markup off: names, URLs and messages carry merchants' text, and "[/bold]" in a name must print as it is.
# What comes from a merchant is also passed through ``visible`` (an escape sequence is shown, not obeyed).
console = Console(stderr=True, soft_wrap=True, markup=False)


def _error(message: str) -> None:
    console.print(Text.assemble(("error:", "red"), " ", visible(message)))


def _show_once(heading: str | Text, secret: str) -> None:
    """A heading on stderr, then a secret on stdout that is never shown again: printed whatever the heading
    does (the record is already stored)."""
    try:
        console.print(heading)
    finally:
        print(secret, flush=True)


def _with_store(settings: Settings, action: Callable[[Runtime], Awaitable[T]]) -> T:
    """Migrate (so every command works on a fresh data directory), then run ``action(runtime)``."""
    upgrade(settings)

    async def run() -> T:
        runtime = create_runtime(settings)
        try:
            return await action(runtime)
        finally:
            await runtime.close()

    try:
        return asyncio.run(run())
    except DomainError as exc:
        _error(exc.message)
        raise typer.Exit(1) from exc


def _env(live: bool) -> Environment:
    return Environment.LIVE if live else Environment.SANDBOX


@cli.command()
def migrate() -> None:
    """Apply the database migrations (serve and every other command also do it first)."""
    settings = Settings()
    upgrade(settings)
    console.print(f"database is up to date: {_safe_url(settings.resolved_database_url)}")


@cli.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to listen on (CAURI_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on (CAURI_PORT).")] = None,
    workers: Annotated[int, typer.Option(help="Server processes sharing the port.")] = 1,
) -> None:
    """Run the gateway: migrations first, then the HTTP server."""
    if host is not None:
        os.environ["CAURI_HOST"] = host
    if port is not None:
        os.environ["CAURI_PORT"] = str(port)
    settings = Settings()
    created = _with_store(settings, _first_app_if_none)
    base = settings.resolved_public_url
    if created is not None:
        app, key = created
        heading = Text.assemble(
            (f"Created the sandbox app {app.name!r}", "bold"), f" ({app.id}). Its secret key, shown once:"
        )
        _show_once(heading, key.secret)
    console.print(f"API base URL:   {base}/v1")
    console.print(f"Methods:        {base}/utils/payment/methods")
    console.print(f"API docs:       {base}/docs")
    console.print(f"Database:       {_safe_url(settings.resolved_database_url)}")

    import uvicorn

    metrics.share_across(workers)
    uvicorn.run(
        "cauri.app:serve_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=workers,
        log_level=settings.log_level.lower(),
        access_log=False,  # our own request log carries the request id
        proxy_headers=False,
    )


async def _first_app_if_none(runtime: Runtime) -> tuple[App, NewKey] | None:
    settings = runtime.settings
    return await app_service.create_first_app(
        runtime.uow(), rate_limit=settings.default_rate_limit, expiry_minutes=settings.default_expiry_minutes
    )


@apps_cli.command("create")
def apps_create(
    name: str,
    live: Annotated[bool, typer.Option("--live", help="Issue a live key instead of a sandbox one.")] = False,
    rate_limit: Annotated[int | None, typer.Option(help="Requests per minute per key; 0 for no limit.")] = None,
    expiry_minutes: Annotated[int | None, typer.Option(help="Minutes before an unpaid payment is cancelled.")] = None,
    website_url: Annotated[str | None, typer.Option(help="The merchant's website.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Create an app and its first secret key (shown once; only its hash is stored)."""
    settings = Settings()
    if rate_limit is not None and rate_limit < 0:
        raise typer.BadParameter("must be 0 or more", param_hint="--rate-limit")
    if expiry_minutes is not None and expiry_minutes <= 0:
        raise typer.BadParameter("must be more than 0", param_hint="--expiry-minutes")
    app, key = _with_store(
        settings,
        lambda runtime: app_service.create_app(
            runtime.uow(),
            name,
            _env(live),
            rate_limit=settings.default_rate_limit if rate_limit is None else rate_limit,
            expiry_minutes=expiry_minutes or settings.default_expiry_minutes,
            website_url=website_url,
        ),
    )
    result = {"id": app.id, "name": app.name, "environment": _env(live).value, "secret_key": key.secret}
    if as_json:
        print(orjson.dumps(result).decode())
    else:
        _show_once(f"Created app {app.name!r} ({app.id}), {_env(live).value} key (shown once):", key.secret)


@apps_cli.command("list")
def apps_list(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """List apps with their keys' display prefixes."""
    rows = _with_store(Settings(), lambda runtime: app_service.list_apps(runtime.uow()))
    if as_json:
        print(
            orjson.dumps(
                [
                    {
                        "id": app.id,
                        "name": app.name,
                        "rate_limit": app.rate_limit,
                        "margin_percent": decimal_text(app.rate_margin * 100),
                        "keys": [
                            {
                                "environment": key.environment,
                                "prefix": key.display_prefix,
                                "expires_at": key.expires_at.isoformat() if key.expires_at else None,
                            }
                            for key in keys
                        ],
                    }
                    for app, keys in rows
                ]
            ).decode()
        )
        return
    table = Table("id", "name", "keys (environment, prefix, expiry)")
    for app, keys in rows:
        table.add_row(
            app.id,
            Text(visible(app.name)),
            "\n".join(f"{k.environment}  {k.display_prefix}  {k.expires_at or ''}" for k in keys),
        )
    Console(markup=False).print(table)


@apps_cli.command("configure")
def apps_configure(
    app: Annotated[str, typer.Argument(help="The app's id or name.")],
    notify_email: Annotated[str | None, typer.Option(help='Where merchant notices go ("" to stop them).')] = None,
    receipts: Annotated[
        bool | None, typer.Option("--receipts/--no-receipts", help="Email customers a receipt.")
    ] = None,
    notices: Annotated[
        bool | None, typer.Option("--notices/--no-notices", help="Email the merchant on success.")
    ] = None,
    failure_notices: Annotated[
        bool | None, typer.Option("--failure-notices/--no-failure-notices", help="Also on each failed attempt.")
    ] = None,
) -> None:
    """Turn the customer's receipt and the merchant's notices on or off."""

    async def configure(runtime: Runtime) -> App:
        return await app_service.configure_emails(
            runtime.uow(), app, notify_email=notify_email, send_receipts=receipts, send_notices=notices,
            notify_failures=failure_notices,
        )  # fmt: skip

    done = _with_store(Settings(), configure)
    notify = visible(done.notify_email or "nobody")
    console.print(
        f"{visible(done.name)}: receipts {'on' if done.send_receipts else 'off'}, notices to {notify} "
        f"({'on' if done.send_notices else 'off'}; failures {'on' if done.notify_failures else 'off'})"
    )


@apps_cli.command("margin")
def apps_margin(
    app: Annotated[str, typer.Argument(help="The app's id or name.")],
    percent: Annotated[str, typer.Argument(help="The correction margin in percent, e.g. 2.5 (0 for none).")],
) -> None:
    """Set the correction margin on payments paid in another currency: the customer pays the rate + PERCENT %."""

    async def margin(runtime: Runtime) -> App:
        return await app_service.set_rate_margin(runtime.uow(), app, percent)

    done = _with_store(Settings(), margin)
    print(f"{visible(done.name)}: correction margin {decimal_text(done.rate_margin * 100)} %")


@keys_cli.command("rotate")
def keys_rotate(
    app: Annotated[str, typer.Argument(help="The app's id or name.")],
    live: Annotated[bool, typer.Option("--live", help="Rotate the live key instead of the sandbox one.")] = False,
    grace_hours: Annotated[
        float | None,
        typer.Option(help="How long the old key keeps working (CAURI_KEY_ROTATION_GRACE_HOURS)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Issue a new secret key; the previous ones keep working for a grace period."""
    settings = Settings()
    grace = timedelta(hours=settings.key_rotation_grace_hours if grace_hours is None else grace_hours)

    found, key = _with_store(settings, lambda runtime: app_service.rotate_key(runtime.uow(), app, _env(live), grace))
    result = {"id": found.id, "name": found.name, "environment": _env(live).value, "secret_key": key.secret}
    if as_json:
        print(orjson.dumps(result).decode())
    else:
        _show_once(f"New {_env(live).value} key for {found.name!r}; the old one works for {grace} more:", key.secret)


@keys_cli.command("revoke")
def keys_revoke(
    prefix: Annotated[str, typer.Argument(help="The key's display prefix, e.g. pvk_sandbox_ab12cd.")],
) -> None:
    """Revoke a key at once (processes that cached it stop accepting it within CAURI_KEY_CACHE_SECONDS)."""
    count = _with_store(Settings(), lambda runtime: app_service.revoke_key(runtime.uow(), prefix))
    if not count:
        _error(f"no active key has the prefix {prefix!r}")
        raise typer.Exit(1)
    console.print(f"revoked {count} key(s)")


@webhooks_cli.command("add")
def webhooks_add(
    app: Annotated[str, typer.Argument(help="The app's id or name.")],
    url: Annotated[str, typer.Argument(help="Where to POST events.")],
    events: Annotated[str | None, typer.Option(help="Comma-separated event types (default: all).")] = None,
    live: Annotated[bool, typer.Option("--live", help="For the live environment instead of the sandbox.")] = False,
    secret: Annotated[str | None, typer.Option(help="Your own signing secret (default: generated).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Add a webhook endpoint; its signing secret is printed once."""
    settings = Settings()
    body: dict[str, Any] = {"url": url, "secret": secret, "events": events.split(",") if events else None}
    body = {k: v for k, v in body.items() if v is not None}
    try:
        endpoint = webhook_service.validate_endpoint(body, _env(live).value, settings)
    except DomainError as exc:
        _error(exc.message)
        raise typer.Exit(1) from exc

    async def add(runtime: Runtime) -> WebhookEndpoint:
        found = await app_service.find_app(runtime.uow(), app)
        scope = Scope(found.id, _env(live).value)
        return await webhook_service.add_endpoint(runtime.uow(), scope, endpoint, settings.secret)

    result = _with_store(settings, add)
    if as_json:
        print(orjson.dumps({"id": result["id"], "url": result["url"], "secret": endpoint.secret}).decode())
    else:
        _show_once(f"Webhook {result['id']} -> {visible(result['url'])}; signing secret (shown once):", endpoint.secret)


events_cli = typer.Typer(help="Events and their webhook deliveries.", no_args_is_help=True)
cli.add_typer(events_cli, name="events")


@events_cli.command("list")
def events_list(
    app: Annotated[str, typer.Argument(help="The app's id or name.")],
    live: Annotated[bool, typer.Option("--live", help="The live environment instead of the sandbox.")] = False,
    limit: Annotated[int, typer.Option(min=1, max=100)] = 20,
) -> None:
    """The newest events, with the state of each delivery."""

    async def listed(runtime: Runtime) -> list[Event]:
        found = await app_service.find_app(runtime.uow(), app)
        scope = Scope(found.id, _env(live).value)
        return await webhook_service.list_events(runtime.uow(), scope, limit=limit, before=None)

    for event in _with_store(Settings(), listed):
        states = ", ".join(f"{d['status']}({d['attempts']})" for d in event["deliveries"]) or "no webhook"
        print(f"{event['id']}  {event['type']:<18} {event['payment_id']}  {states}")


@events_cli.command("resend")
def events_resend(
    app: Annotated[str, typer.Argument(help="The app's id or name.")],
    event_id: Annotated[str, typer.Argument(help="The event to send again.")],
    live: Annotated[bool, typer.Option("--live", help="The live environment instead of the sandbox.")] = False,
) -> None:
    """Send an event again to the app's endpoints."""

    async def resent(runtime: Runtime) -> int:
        found = await app_service.find_app(runtime.uow(), app)
        return await webhook_service.resend_event(runtime.uow(), Scope(found.id, _env(live).value), event_id)

    console.print(f"{_with_store(Settings(), resent)} delivery(ies) due now")


payouts_cli = typer.Typer(help="Payouts: money sent to recipients.", no_args_is_help=True)
cli.add_typer(payouts_cli, name="payouts")


@payouts_cli.command("list")
def payouts_list(
    app: Annotated[str, typer.Argument(help="The app's id or name.")],
    live: Annotated[bool, typer.Option("--live", help="The live environment instead of the sandbox.")] = False,
    status: Annotated[str | None, typer.Option(help="initiated, pending, success or failed.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=100)] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The newest payouts."""
    if status is not None and status not in tuple(PayoutStatus):
        raise typer.BadParameter("must be initiated, pending, success or failed", param_hint="--status")

    async def listed(runtime: Runtime) -> list[Payout]:
        found = await app_service.find_app(runtime.uow(), app)
        where = PaymentFilter(statuses=(status,) if status else ())
        scope = Scope(found.id, _env(live).value)
        page = await payout_service.list_payouts(runtime.uow(), scope, where, limit=limit, after=None, app=found)
        return page.payouts

    rows = _with_store(Settings(), listed)
    if as_json:
        print(orjson.dumps(rows).decode())
        return
    table = Table("id", "status", "amount", "method", "recipient", "description", "created")
    for payout in rows:
        disburse = payout["disburse"]
        recipient = ", ".join(str(value) for value in disburse["recipient"].values())
        # Merchant text is printed as it is, never read as Rich markup.
        table.add_row(payout["id"], payout["status"], payout["amount_formatted"], disburse["method"]["short_code"],
                      escape(recipient), escape(payout["description"]), payout["created_at"])  # fmt: skip
    Console().print(table)


@payouts_cli.command("show")
def payouts_show(
    app: Annotated[str, typer.Argument(help="The app's id or name.")],
    payout_id: Annotated[str, typer.Argument(help="The payout's id.")],
    live: Annotated[bool, typer.Option("--live", help="The live environment instead of the sandbox.")] = False,
) -> None:
    """One payout, as the API's verify returns it (JSON)."""

    async def shown(runtime: Runtime) -> Payout:
        found = await app_service.find_app(runtime.uow(), app)
        scope = Scope(found.id, _env(live).value)
        return await payout_service.verify_payout(runtime.uow(), scope, payout_id, app=found)

    print(orjson.dumps(_with_store(Settings(), shown), option=orjson.OPT_INDENT_2).decode())


@cli.command()
def balances(
    app: Annotated[str, typer.Argument(help="The app's id or name.")],
    live: Annotated[bool, typer.Option("--live", help="The live environment instead of the sandbox.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The app's balances, one per currency: collected, refunded, paid out, available."""

    async def listed(runtime: Runtime) -> list[Balance]:
        found = await app_service.find_app(runtime.uow(), app)
        return await balance_service.list_balances(runtime.uow(), Scope(found.id, _env(live).value))

    rows = _with_store(Settings(), listed)
    if as_json:
        print(orjson.dumps(rows).decode())
        return
    table = Table("currency", "collected", "refunded", "paid out", "available")
    for row in rows:
        table.add_row(row["currency"], str(row["collected"]), str(row["refunded"]), str(row["paid_out"]),
                      str(row["available"]))  # fmt: skip
    Console().print(table)


@rates_cli.command("set")
def rates_set(
    base: Annotated[str, typer.Argument(help="The currency priced in, e.g. USD.")],
    quote: Annotated[str, typer.Argument(help="The currency paid in, e.g. NGN.")],
    rate: Annotated[str, typer.Argument(help="Units of QUOTE per unit of BASE, e.g. 1550.25.")],
) -> None:
    """Set the rate from BASE to QUOTE (replacing the pair's previous one); used for CAURI_RATE_MAX_AGE_HOURS."""
    saved = _with_store(Settings(), lambda runtime: rate_service.set_rate(runtime.uow(), base, quote, rate))
    print(f"1 {saved.base} = {saved.rate} {saved.quote} (set {saved.set_at:%Y-%m-%d %H:%M} UTC)")


@rates_cli.command("list")
def rates_list(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """The legal pegs and the rates set, with whether each is still fresh enough to be used."""
    settings = Settings()
    max_age = timedelta(hours=settings.rate_max_age_hours)
    rows = _with_store(settings, lambda runtime: rate_service.list_rates(runtime.uow(), max_age))
    if as_json:
        print(orjson.dumps([rate_service.rate_json(row) for row in rows]).decode())
        return
    table = Table("base", "quote", "rate", "source", "set at", "used")
    for row in rows:
        r = row.rate
        set_at = f"{r.set_at:%Y-%m-%d %H:%M}" if r.set_at else ""
        table.add_row(escape(r.base), escape(r.quote), escape(str(r.rate)), escape(r.source.value), set_at,
                      "yes" if row.fresh else "no (too old)")  # fmt: skip
    Console().print(table)


#: A credential may come from the environment: ``CAURI_CREDENTIAL_SECRET_KEY`` for the field ``secret_key``.
CREDENTIAL_ENV = "CAURI_CREDENTIAL_"


def _read_credentials(fields: tuple[str, ...], optional: tuple[str, ...] = ()) -> dict[str, str]:
    """The credentials from ``CAURI_CREDENTIAL_<FIELD>`` variables, then from standard input: a JSON object,
    ``field=value`` lines, or (a provider with one field) the value alone; asked for, unechoed, on a terminal.
    ``optional`` ones are taken when given (a variable, a JSON key, a line), never asked for."""
    found = {
        name: os.environ[CREDENTIAL_ENV + name.upper()]
        for name in fields + optional
        if CREDENTIAL_ENV + name.upper() in os.environ
    }
    missing = [name for name in fields if name not in found]
    if not missing:
        return found
    if sys.stdin.isatty():
        for name in missing:
            found[name] = typer.prompt(name, hide_input=True)
        return found
    text = sys.stdin.read().strip()
    if text.startswith("{"):
        try:
            given = orjson.loads(text)
        except orjson.JSONDecodeError:
            given = None
        if not isinstance(given, dict):
            _error("standard input is not a JSON object of credentials")
            raise typer.Exit(1)
        found.update({k: v for k, v in given.items() if k in missing or k in optional})
    elif len(missing) == 1 and not text.startswith(missing[0] + "="):
        found[missing[0]] = text
    else:
        for line in text.splitlines():
            name, sep, value = line.partition("=")
            if sep and (name.strip() in missing or name.strip() in optional):
                found[name.strip()] = value.strip()
    return found


@providers_cli.command("add")
def providers_add(
    app: Annotated[str, typer.Argument(help="The app's id or name.")],
    provider: Annotated[str, typer.Argument(help="The provider's code (pawapay, paystack, fedapay…).")],
    label: Annotated[str, typer.Option(help="Your name for the account.")],
    sandbox: Annotated[bool, typer.Option("--sandbox", help="Use the provider's own sandbox.")] = False,
    live: Annotated[bool, typer.Option("--live", help="For the live environment instead of the sandbox.")] = False,
    methods: Annotated[str | None, typer.Option(help="Comma-separated method codes (default: all it serves).")] = None,
    priority: Annotated[int | None, typer.Option(help="Routing tries lower priorities first (default 100).")] = None,
    base_url: Annotated[str | None, typer.Option(help="The provider's API root, when not the documented one.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Connect an account at a provider; live payments are routed to it for its methods."""
    settings = Settings()
    specs = provider_service.provider_specs()
    spec = specs.get(provider)
    if spec is None:
        _error(f"unknown provider {provider!r}; installed: {', '.join(sorted(specs)) or 'none'}")
        raise typer.Exit(1)
    body: dict[str, Any] = {
        "provider": provider,
        "label": label,
        "credentials": _read_credentials(spec.credential_fields, spec.optional_credentials),
    }
    if sandbox:
        body["sandbox"] = True
    elif live:
        body["sandbox"] = False
    if methods is not None:
        body["methods"] = [code.strip() for code in methods.split(",") if code.strip()]
    if priority is not None:
        body["priority"] = priority
    if base_url is not None:
        body["base_url"] = base_url
    try:
        account = provider_service.check_account(body, _env(live).value)
    except DomainError as exc:
        for name, messages in (exc.errors.by_field if exc.errors else {}).items():
            _error(f"{name}: {' '.join(messages)}")
        raise typer.Exit(1) from exc

    async def add(runtime: Runtime) -> provider_service.ProviderAccountSummary:
        found = await app_service.find_app(runtime.uow(), app)
        return await provider_service.add_account(runtime.uow(), Scope(found.id, _env(live).value), account,
                                                  settings.secret)  # fmt: skip

    result = _with_store(settings, add)
    if as_json:
        print(orjson.dumps(result).decode())
    else:
        print(
            f"{result['id']}  {result['provider']}  {visible(result['label'])}  methods: {', '.join(result['methods'])}"
        )


@providers_cli.command("list")
def providers_list(
    app: Annotated[str, typer.Argument(help="The app's id or name.")],
    live: Annotated[bool, typer.Option("--live", help="The live environment instead of the sandbox.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The app's provider accounts, in routing order (credentials are never shown)."""

    async def listed(runtime: Runtime) -> list[provider_service.ProviderAccountSummary]:
        found = await app_service.find_app(runtime.uow(), app)
        return await provider_service.list_accounts(runtime.uow(), Scope(found.id, _env(live).value))

    rows = _with_store(Settings(), listed)
    if as_json:
        print(orjson.dumps(rows).decode())
        return
    table = Table("id", "provider", "label", "mode", "priority", "methods")
    for row in rows:
        table.add_row(row["id"], row["provider"], Text(visible(row["label"])), "sandbox" if row["sandbox"] else "live",
                      str(row["priority"]), ", ".join(row["methods"]))  # fmt: skip
    Console(markup=False).print(table)


@providers_cli.command("remove")
def providers_remove(
    app: Annotated[str, typer.Argument(help="The app's id or name.")],
    account_id: Annotated[str, typer.Argument(help="The account's id (pa_…).")],
    live: Annotated[bool, typer.Option("--live", help="The live environment instead of the sandbox.")] = False,
) -> None:
    """Stop routing payments to an account (its pending attempts still settle)."""

    async def removed(runtime: Runtime) -> None:
        found = await app_service.find_app(runtime.uow(), app)
        await provider_service.remove_account(runtime.uow(), Scope(found.id, _env(live).value), account_id)

    _with_store(Settings(), removed)
    console.print(f"removed {account_id}")


@cli.command()
def doctor(app: Annotated[str, typer.Argument(help="The app's id or name.")]) -> None:
    """Ask each of the app's provider accounts' providers whether they take its credentials; exits 1 unless all do."""

    async def checked(runtime: Runtime) -> list[provider_service.AccountCheck]:
        found = await app_service.find_app(runtime.uow(), app)
        return await provider_service.check_accounts(runtime.uow(), runtime.connectors, found.id)

    checks = _with_store(Settings(), checked)
    if not checks:
        print("no provider accounts: live payments offer no method")
    for check in checks:
        account = check.account
        mark = "ok" if check.reachable else "FAIL"
        print(f"{mark:<4} {account['environment']:<7} {account['provider']:<10} {account['id']}  "
              f"{visible(account['label'])}: {visible(check.detail)}")  # fmt: skip
    if any(not check.reachable for check in checks):
        raise typer.Exit(1)


@cli.command()
def worker() -> None:
    """Run the background work alone: webhooks, emails, expiry, reconciliation, purge (as many as you like,
    on one database)."""
    from cauri.logs import configure_logging
    from cauri.workers.jobs import background_tasks

    settings = Settings()
    configure_logging(settings.log_level)
    upgrade(settings)

    async def run() -> None:
        runtime = create_runtime(settings)
        try:
            await asyncio.gather(*(job() for job in background_tasks(runtime, dispatch=True)))
        finally:
            await runtime.close()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())


users_cli = typer.Typer(help="Dashboard users (log in at /dashboard).", no_args_is_help=True)
cli.add_typer(users_cli, name="users")


def _read_password() -> str:
    """The password from standard input (never the command line, where ``ps`` and the shell history see it):
    asked twice at a terminal, else its first line."""
    if sys.stdin.isatty():
        first = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != first:
            _error("the passwords differ")
            raise typer.Exit(1)
        return first
    return sys.stdin.readline().rstrip("\r\n")


@users_cli.command("create")
def users_create(
    email: Annotated[str, typer.Argument(help="The user's email, which they log in with.")],
    role: Annotated[str, typer.Option(help="owner (everything), developer (webhooks too) or viewer.")] = "owner",
    app: Annotated[
        list[str] | None, typer.Option("--app", help="An app (id or name) they see; repeat it. Default: every app.")
    ] = None,
) -> None:
    """Create a dashboard user; the password is read from standard input."""
    password = _read_password()

    async def create(runtime: Runtime) -> tuple[str, str, list[str]]:
        return await user_service.create_user(runtime.uow(), email, password, role, app or [])

    user_id, stored, app_ids = _with_store(Settings(), create)
    console.print(f"created {stored} ({user_id}), {role}, apps: {', '.join(app_ids) or 'none'}")


@users_cli.command("list")
def users_list(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """List dashboard users with their role, apps and whether a second factor is on."""
    found = _with_store(Settings(), lambda runtime: user_service.list_users(runtime.uow()))
    if as_json:
        print(orjson.dumps([{"id": u.id, "email": u.email, "role": u.role, "apps": list(u.app_ids),
                              "totp": u.totp, "created_at": u.created_at} for u in found]).decode())  # fmt: skip
        return
    table = Table("id", "email", "role", "apps", "totp", "created")
    for u in found:
        email = Text(visible(u.email), overflow="fold")  # a long one wraps, never cut
        table.add_row(u.id, email, u.role, ", ".join(u.app_ids), "yes" if u.totp else "no", u.created_at)
    # Piped, rich would assume 80 columns and cut emails short: a file or a pipe gets every character.
    Console(markup=False, width=None if sys.stdout.isatty() else 200).print(table)


_APPS_OPTION = typer.Option("--app", help="An app (id or name); repeat it.")


@users_cli.command("grant")
def users_grant(
    email: Annotated[str, typer.Argument(help="The user's email.")],
    app: Annotated[list[str], _APPS_OPTION],
) -> None:
    """Let a user see (and act on, as their role allows) more apps: an app created after them, say."""
    _change_apps(email, app, grant=True)


@users_cli.command("revoke")
def users_revoke(
    email: Annotated[str, typer.Argument(help="The user's email.")],
    app: Annotated[list[str], _APPS_OPTION],
) -> None:
    """Take apps away from a user; their open sessions lose them on their next page."""
    _change_apps(email, app, grant=False)


def _change_apps(email: str, app: list[str], *, grant: bool) -> None:
    async def change(runtime: Runtime) -> list[str]:
        return await user_service.change_apps(runtime.uow(), email, app, grant=grant)

    changed = _with_store(Settings(), change)
    done, none = ("added", "already theirs") if grant else ("removed", "not theirs")
    console.print(f"{email.strip().lower()}: apps {done}: {', '.join(changed) or f'none ({none})'}")


@users_cli.command("role")
def users_role(
    email: Annotated[str, typer.Argument(help="The user's email.")],
    role: Annotated[str, typer.Argument(help="owner, developer or viewer.")],
) -> None:
    """Give a user another role; their open sessions act with it at once."""

    async def change(runtime: Runtime) -> str:
        return await user_service.change_role(runtime.uow(), email, role)

    console.print(f"{email.strip().lower()} is now {_with_store(Settings(), change)}")


@users_cli.command("totp")
def users_totp(email: Annotated[str, typer.Argument(help="The user's email.")]) -> None:
    """Turn on (or renew) the user's second factor; prints the otpauth:// URI for their app, once."""
    settings = Settings()

    async def enrol(runtime: Runtime) -> str:
        return await user_service.enrol_totp(runtime.uow(), email, settings.secret)

    uri = _with_store(settings, enrol)
    _show_once("Add this to the user's authenticator app (shown once):", uri)


def _safe_url(url: str) -> str:
    """The database URL without its password."""
    head, sep, tail = url.partition("@")
    if not sep or ":" not in head.split("//", 1)[-1]:
        return url
    scheme, _, user_pass = head.partition("//")
    return f"{scheme}//{user_pass.split(':', 1)[0]}:***@{tail}"


def main() -> None:
    cli()
