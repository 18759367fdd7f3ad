"""Hostile input on every route, on both databases: NUL and other control characters, markup, wrong content
types and oversize bodies, in path parameters, query strings, JSON fields and form fields.

Whatever arrives, the gateway answers without a 5xx, in the API's envelope on the API, with the field named when
a JSON field is refused, with markup escaped on its pages, and stores nothing it refused. The route table below
must name every route the app serves: a new route fails ``test_every_route_is_probed`` until it is added here.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.routing import Mount, Route

from cauri.app import create_app
from cauri.connectors.providers import PROVIDERS
from cauri.services.users import create_user, log_in
from cauri.settings import Settings
from cauri.store.tables import api_keys, metadata
from tests.conftest import MerchantApp, payment_body, uow
from tests.providers_stub import StubConnector

CONTROL = ["\x00", "a\x00b", "\x1b[2J", "x\r\nX-Injected: 1", "\x7f", "\x85", "\u2028"]
SCRIPT = "<script>alert(1)</script>"
MARKUP = [SCRIPT, "[/bold]x[red]", "{{7*7}}{% raw %}${7*7}"]
HOSTILE = CONTROL + MARKUP
OVERSIZE = b"x" * (64 * 1024 + 1)  # past the API's default limit, the callback's and the forms'


@dataclass(frozen=True)
class World:
    """Real objects, so that a route is probed past its "not found" as well as at it."""

    merchant: MerchantApp
    ids: dict[str, str]
    #: A dashboard owner's session cookie (the dashboard's probes are made logged in).
    cookie: str = ""


@dataclass(frozen=True)
class Probe:
    kind: str  # "api": the envelope; "page": HTML; "json": checkout and connector JSON; "asset": files
    query: tuple[str, ...] = ()
    json: dict[str, Any] | None = None  # a valid body; each of ``fields`` is made hostile in turn
    fields: tuple[str, ...] = ()
    form: tuple[str, ...] = ()  # the checkout's form fields (posted with a valid CSRF token)
    authenticated: bool = False
    extra: dict[str, str] = field(default_factory=dict)
    session: bool = False  # sent with a dashboard session cookie
    operator: bool = False  # sent with the operator's token (``CAURI_OPERATOR_TOKEN``)
    path_fields: bool = False  # its path parameters are values it validates (422 naming them), not ids to find


INITIALIZE_FIELDS = (
    "description", "return_url", "currency", "amount", "customer.email", "customer.first_name",
    "customer.last_name", "customer.phone", "customer.address", "customer.city", "customer.state",
    "customer.country", "customer.zip", "metadata.order_id", "metadata.<key>", "methods.0",
    "restrict_country_code", "restricted_phone.number", "restricted_phone.country_code",
)  # fmt: skip
PAYOUT_FIELDS = (
    "amount", "currency", "description", "method", "customer.email", "customer.first_name", "customer.last_name",
    "recipient.msisdn", "metadata.order_id", "metadata.<key>",
)  # fmt: skip
PAYOUT_BODY = {
    "amount": 500, "currency": "XOF", "description": "Supplier", "method": "mtn_bj",
    "customer": {"email": "a@example.com", "first_name": "Awa", "last_name": "Dossou"},
    "recipient": {"msisdn": "4149518161"}, "metadata": {"order_id": "1"},
}  # fmt: skip
PROVIDER_BODY = {"provider": "stub", "label": "Main", "credentials": {"api_key": "k" * 24}, "methods": ["mtn_bj"],
                 "base_url": "https://provider.example/api"}  # fmt: skip
LIST_QUERY = ("status", "created_from", "created_to", "customer_email", "limit", "cursor", "metadata[order_id]",
              "metadata[<key>]")  # fmt: skip
API = Probe("api", authenticated=True)
OPERATOR_TOKEN = "operator-" + "t" * 40
PAGE = Probe("page", query=("lang",))
DASHBOARD = Probe("page", query=("lang",), session=True)
DASHBOARD_QUERY = ("app", "env", "status", "from", "to", "method", "amount_min", "amount_max", "email", "meta",
                   "cursor", "lang")  # fmt: skip
FORM = ("csrf", "method", "phone", "card_number", "card_expiry", "card_cvc", "country", "region", "kind", "decision")

PROBES: dict[tuple[str, str], Probe] = {
    ("GET", "/"): Probe("api"),
    ("POST", "/v1/payments/initialize"): Probe("api", json=payment_body(methods=None), fields=INITIALIZE_FIELDS,
                                               authenticated=True),
    ("GET", "/v1/payments"): Probe("api", authenticated=True, query=LIST_QUERY),
    ("GET", "/v1/payments/{payment_id:payment_id}/verify"): API,
    ("GET", "/v1/payments/{payment_id:payment_id}"): API,
    ("POST", "/v1/payments/{payment_id:payment_id}/process"): API,
    ("POST", "/v1/payments/{payment_id:payment_id}/refund"): Probe("api", json={"amount": 10, "reason": "Returned"},
                                                                   fields=("amount", "reason"), authenticated=True),
    ("POST", "/v1/payouts/initialize"): Probe("api", json=PAYOUT_BODY, fields=PAYOUT_FIELDS, authenticated=True),
    ("GET", "/v1/payouts"): Probe("api", authenticated=True, query=LIST_QUERY),
    ("GET", "/v1/payouts/{payout_id:payout_id}/verify"): API,
    ("GET", "/v1/payouts/{payout_id:payout_id}"): API,
    ("GET", "/v1/balances"): API,
    ("GET", "/v1/rates"): API,
    ("PUT", "/v1/rates/{base}/{quote}"): Probe("api", json={"rate": "1550.25"}, fields=("rate",), operator=True,
                                               path_fields=True, extra={"base": "USD", "quote": "NGN"}),
    ("POST", "/v1/webhooks"): Probe("api", json={"url": "https://example.com/hook", "secret": "s" * 24,
                                                 "events": ["payment.success"]},
                                    fields=("url", "secret", "events.0"), authenticated=True),
    ("GET", "/v1/webhooks"): API,
    ("DELETE", "/v1/webhooks/{endpoint_id}"): API,
    ("POST", "/v1/providers"): Probe("api", json=PROVIDER_BODY, authenticated=True,
                                     fields=("provider", "label", "credentials.api_key", "methods.0", "base_url")),
    ("GET", "/v1/providers"): API,
    ("DELETE", "/v1/providers/{account_id}"): Probe("api", authenticated=True,
                                                    extra={"account_id": "pa_0000000000000000"}),
    ("GET", "/v1/events"): Probe("api", query=("limit", "before"), authenticated=True),
    ("POST", "/v1/events/{event_id}/resend"): API,
    ("GET", "/v1/deliveries/{delivery_id}"): API,
    ("GET", "/utils/payment/methods"): Probe("api"),
    ("GET", "/utils/payout/methods"): Probe("api"),
    ("GET", "/openapi.json"): Probe("asset"),
    ("GET", "/docs"): Probe("page"),
    ("GET", "/docs/init.js"): Probe("asset"),
    ("MOUNT", "/docs/static"): Probe("asset"),
    ("GET", "/checkout/{payment_id:payment_id}"): PAGE,
    ("GET", "/checkout/{payment_id:payment_id}/status"): Probe("json"),
    ("POST", "/checkout/{payment_id:payment_id}/pay"): Probe("page", query=("lang",), form=FORM),
    ("POST", "/checkout/{payment_id:payment_id}/cancel"): Probe("page", query=("lang",), form=("csrf",)),
    ("POST", "/checkout/{payment_id:payment_id}/retry"): Probe("page", query=("lang",), form=("csrf",)),
    ("GET", "/checkout/{payment_id:payment_id}/authenticate"): PAGE,
    ("POST", "/checkout/{payment_id:payment_id}/authenticate"): Probe("page", query=("lang",), form=FORM),
    ("GET", "/checkout/{payment_id:payment_id}/qr.svg"): Probe("asset"),
    ("POST", "/connectors/{connector}/callback"): Probe("json", extra={"connector": "sandbox"}),
    ("POST", "/connectors/{connector}/payouts/callback"): Probe("json", extra={"connector": "sandbox"}),
    ("POST", "/connectors/{connector}/refunds/callback"): Probe("json", extra={"connector": "sandbox"}),
    ("MOUNT", "/checkout-static"): Probe("asset"),
    ("GET", "/dashboard"): DASHBOARD,
    ("GET", "/dashboard/login"): PAGE,
    ("POST", "/dashboard/login"): Probe("page", query=("lang",)),
    ("POST", "/dashboard/logout"): DASHBOARD,
    ("GET", "/dashboard/payments"): Probe("page", query=DASHBOARD_QUERY, session=True),
    ("GET", "/dashboard/payments.csv"): Probe("page", query=DASHBOARD_QUERY, session=True),
    ("GET", "/dashboard/payments/{payment_id}"): Probe("page", query=("lang", "notice"), session=True),
    ("POST", "/dashboard/payments/{payment_id}/resend"): DASHBOARD,
    ("POST", "/dashboard/payments/{payment_id}/refund"): DASHBOARD,
    ("POST", "/dashboard/payments/{payment_id}/cancel"): DASHBOARD,
    ("POST", "/dashboard/payments/{payment_id}/process"): DASHBOARD,
    ("GET", "/dashboard/audit"): DASHBOARD,
    ("GET", "/dashboard/overview"): Probe("page", query=("app", "env", "stuck", "lang"), session=True),
    ("GET", "/dashboard/keys"): Probe("page", query=("app", "notice", "lang"), session=True),
    ("POST", "/dashboard/keys/create"): DASHBOARD,
    ("POST", "/dashboard/keys/{key_id}/rotate"): DASHBOARD,
    ("POST", "/dashboard/keys/{key_id}/revoke"): DASHBOARD,
    ("GET", "/dashboard/webhooks"): Probe("page", query=("app", "env", "notice", "lang"), session=True),
    ("POST", "/dashboard/webhooks/add"): DASHBOARD,
    ("POST", "/dashboard/webhooks/{endpoint_id}/disable"): DASHBOARD,
    ("POST", "/dashboard/webhooks/{endpoint_id}/test"): DASHBOARD,
    ("GET", "/dashboard/emails"): Probe("page", query=("app", "notice", "lang"), session=True),
    ("POST", "/dashboard/emails"): DASHBOARD,
    ("GET", "/dashboard/providers"): Probe("page", query=("app", "env", "notice", "lang"), session=True),
    ("POST", "/dashboard/providers/add"): DASHBOARD,
    ("POST", "/dashboard/providers/{account_id}/remove"): Probe("page", query=("lang",), session=True,
                                                                extra={"account_id": "pa_0000000000000000"}),
    ("MOUNT", "/dashboard-static"): Probe("asset"),
    ("GET", "/healthz"): Probe("json"),
    ("GET", "/readyz"): Probe("json"),
    ("GET", "/metrics"): Probe("asset"),
}  # fmt: skip
#: Routes that never read the request body (a DELETE, the resend action).
UNREAD_BODIES = {("DELETE", "/v1/webhooks/{endpoint_id}"), ("POST", "/v1/events/{event_id}/resend")}
_PARAM = re.compile(r"\{(\w+)(?::\w+)?\}")


def served_routes(settings: Settings) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for route in create_app(settings).routes:
        if isinstance(route, Mount):
            found.add(("MOUNT", route.path))
        elif isinstance(route, Route):
            found |= {(method, route.path) for method in route.methods or () if method != "HEAD"}
    return found


def test_every_route_is_probed(settings: Settings) -> None:
    assert served_routes(settings) == set(PROBES)


@pytest.fixture(autouse=True)
def stub_provider() -> Iterator[None]:
    """A provider connector installed, so that a valid account body reaches past the provider check."""
    PROVIDERS["stub"] = StubConnector
    yield
    PROVIDERS.pop("stub", None)


@pytest.fixture
async def hostile_client(settings: Settings, engine: AsyncEngine) -> Any:
    """The app as a client sees it: a 500 is an answer here (checked), not an exception in the test."""
    app = create_app(settings.model_copy(update={"operator_token": OPERATOR_TOKEN}), engine)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://cauri.test") as client:
        yield client


def probe_headers(probe: Probe, world: World) -> dict[str, str]:
    headers = world.merchant.headers if probe.authenticated else {"Accept": "application/json"}
    if probe.operator:
        headers = {"Authorization": f"Bearer {OPERATOR_TOKEN}", "Accept": "application/json"}
    if probe.session:
        assert world.cookie, "a dashboard probe is made logged in"
        headers = {**headers, "Cookie": world.cookie}
    return headers


@pytest.fixture
async def world(
    request: pytest.FixtureRequest,
    hostile_client: httpx.AsyncClient,
    merchant: MerchantApp,
    engine: AsyncEngine,
    settings: Settings,
) -> World:
    client, headers = hostile_client, merchant.headers
    endpoint = await client.post("/v1/webhooks", json={"url": "https://example.com/hook"}, headers=headers)
    body = payment_body(currency="XOF", methods=["mtn_bj", "card_xof"])
    payment = await client.post("/v1/payments/initialize", json=body, headers=headers)
    payout = await client.post("/v1/payouts/initialize", json=PAYOUT_BODY, headers=headers)
    assert payout.status_code == 201, payout.text
    events = (await client.get("/v1/events", params={"limit": 5}, headers=headers)).json()["data"]
    event = next(e for e in events if e["deliveries"])
    ids = {
        "payment_id": payment.json()["data"]["id"],
        "payout_id": payout.json()["data"]["id"],
        "endpoint_id": endpoint.json()["data"]["id"],
        "event_id": event["id"],
        "delivery_id": event["deliveries"][0]["id"],
    }
    async with engine.connect() as conn:
        ids["key_id"] = (await conn.execute(select(api_keys.c.id).where(api_keys.c.app_id == merchant.id))).scalar_one()
    callspec = getattr(request.node, "callspec", None)
    route = callspec.params.get("route") if callspec else None
    if route is not None and not PROBES[route].session:
        return World(merchant, ids)  # a password's hash and check cost ~0.2 s: only for the dashboard's probes
    owner = f"owner-{merchant.id.lower()}@example.com"
    await create_user(uow(engine), owner, "correct horse battery staple", "owner", [merchant.id])
    token, _session = await log_in(uow(engine), settings, owner, "correct horse battery staple", "", "10.9.9.9")
    return World(merchant, ids, f"cauri_session={token}")


#: Every table's row count, in one statement (one round trip instead of one a table: run ~16 times a test).
_COUNTS = select(*(select(func.count()).select_from(t).scalar_subquery().label(t.name) for t in metadata.sorted_tables))


async def row_counts(engine: AsyncEngine) -> dict[str, int]:
    async with engine.connect() as conn:
        return {name: int(count) for name, count in (await conn.execute(_COUNTS)).one()._asdict().items()}


def check(probe: Probe, response: httpx.Response, value: str | None, where: str) -> None:
    """What every answer to hostile input must be."""
    assert response.status_code < 500, f"{where}: {response.status_code} {response.text[:300]}"
    if probe.kind == "api":
        body = response.json()
        assert set(body) >= {"success", "message", "data", "errors"}, where
        assert body["success"] is (response.status_code < 400), where
    if value == SCRIPT and "html" in response.headers.get("content-type", ""):
        assert SCRIPT not in response.text, f"{where}: markup not escaped"


def set_path(body: dict[str, Any], dotted: str, value: str) -> dict[str, Any]:
    """A copy of ``body`` with ``dotted`` (``customer.email``, ``methods.0``, ``metadata.<key>``) set."""
    copy: dict[str, Any] = {k: (dict(v) if isinstance(v, dict) else list(v) if isinstance(v, list) else v)
                            for k, v in body.items()}  # fmt: skip
    *parents, last = dotted.split(".")
    target: Any = copy
    for name in parents:
        if name not in target or target[name] is None:
            target[name] = {} if last != "0" else []
        target = target[name]
    if last == "<key>":
        target[value] = "1"
    elif last == "0":
        target[:] = [value]
    else:
        target[last] = value
    if dotted.startswith("restricted_phone."):
        copy.pop("restrict_country_code", None)
        copy["restricted_phone"] = {"number": "22951345780", "country_code": "BJ", **copy["restricted_phone"]}
    return copy


def url_of(path: str, values: dict[str, str]) -> str:
    return _PARAM.sub(lambda m: quote(values[m.group(1)], safe=""), path)


Send = Callable[..., Awaitable[httpx.Response]]


async def csrf_token(client: httpx.AsyncClient, payment_id: str) -> str:
    page = await client.get(f"/checkout/{payment_id}")
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found, "the checkout page carries its CSRF token"
    return found.group(1)


@pytest.mark.parametrize("route", sorted(PROBES), ids=lambda r: f"{r[0]} {r[1]}")
async def test_hostile_input_is_answered_and_never_stored(
    hostile_client: httpx.AsyncClient, engine: AsyncEngine, world: World, route: tuple[str, str]
) -> None:
    client, (method, path), probe = hostile_client, route, PROBES[route]
    headers = probe_headers(probe, world)
    valid = {**world.ids, **probe.extra}
    if method == "MOUNT":
        method, path = "GET", path + "/{asset}"
        valid["asset"] = "missing.css"

    async def send(url: str, value: str | None, where: str, **kwargs: Any) -> httpx.Response:
        response = await client.request(method, url, headers={**headers, **kwargs.pop("headers", {})}, **kwargs)
        check(probe, response, value, where)
        return response

    for value in HOSTILE:
        before = await row_counts(engine)
        for name in _PARAM.findall(path) + (["asset"] if "{asset}" in path else []):
            response = await send(url_of(path, {**valid, name: value}), value, f"path {name}={value!r}")
            if probe.path_fields and response.status_code == 422:
                assert name in response.json()["errors"], f"path {name}={value!r}: {response.text}"
                continue
            assert response.status_code in (400, 404, 405), f"path {name}={value!r}: {response.status_code}"
        for name in probe.query:
            name = name.replace("<key>", value)
            await send(url_of(path, valid), value, f"query {name}={value!r}", params={name: value})
        for dotted in probe.fields:
            assert probe.json is not None
            response = await send(url_of(path, valid), value, f"json {dotted}={value!r}",
                                  json=set_path(probe.json, dotted, value))  # fmt: skip
            if value in CONTROL:
                assert response.status_code == 422, f"json {dotted}={value!r}: {response.status_code}"
                named = response.json()["errors"]
                assert not any(value in name for name in named), "a refused key is never echoed back as a field"
        if probe.form:
            token = await csrf_token(client, world.ids["payment_id"])
            for name in probe.form:
                form = {"csrf": token, "method": "mtn_bj", name: value}
                await send(url_of(path, valid), value, f"form {name}={value!r}", data=form)
        if value in CONTROL:  # markup is text like any other: where it is valid it is stored (and escaped)
            assert await row_counts(engine) == before, f"{value!r} left rows behind"
    if method in ("POST", "PUT", "DELETE"):
        before = await row_counts(engine)
        await probe_bodies(send, url_of(path, valid), unread=route in UNREAD_BODIES)
        assert await row_counts(engine) == before


async def probe_bodies(send: Send, url: str, unread: bool) -> None:
    """Bodies no route expects: markup, NUL, invalid UTF-8, multipart, and more than any limit (refused by every
    route that reads a body; ``unread``: the route never reads one, so it costs nothing)."""
    bodies = [
        (b"<?xml version='1.0'?><a>&lt;</a>", "application/xml"),
        (b"\x00\x01\x02{", "application/json"),
        (b'{"amount": "\xff\xfe"}', "application/json"),
        (b"--b\r\nContent-Disposition: form-data; name=a\r\n\r\n\x00\r\n--b--\r\n", "multipart/form-data; boundary=b"),
        (b"csrf=%00&method=%3Cscript%3E", "application/x-www-form-urlencoded"),
        (b"[1, 2, 3]", "text/plain"),
        (OVERSIZE, "application/json"),
    ]
    for content, content_type in bodies:
        response = await send(url, None, f"body {content[:20]!r} as {content_type}", content=content,
                               headers={"content-type": content_type})  # fmt: skip
        if content is OVERSIZE and not unread:
            assert response.status_code in (403, 404, 413), f"{url}: {response.status_code}"


async def test_markup_in_every_merchant_text_is_escaped_on_the_checkout(
    hostile_client: httpx.AsyncClient, merchant: MerchantApp
) -> None:
    """Markup is valid text (a shop may sell "<b>" tags): it is stored as sent and shown as text, never as HTML."""
    customer = {"email": "a@example.com", "first_name": SCRIPT, "last_name": "{{7*7}}", "address": SCRIPT}
    body = payment_body(currency="XOF", methods=["mtn_bj"], description=SCRIPT + "{{7*7}}", customer=customer,
                        metadata={"note": SCRIPT})  # fmt: skip
    created = await hostile_client.post("/v1/payments/initialize", json=body, headers=merchant.headers)
    assert created.status_code == 201, created.text
    payment_id = created.json()["data"]["id"]
    verified = (await hostile_client.get(f"/v1/payments/{payment_id}", headers=merchant.headers)).json()["data"]
    assert verified["description"] == SCRIPT + "{{7*7}}" and verified["metadata"]["note"] == SCRIPT
    page = await hostile_client.get(f"/checkout/{payment_id}")
    assert page.status_code == 200
    assert SCRIPT not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;{{7*7}}" in page.text  # shown as text, not run nor evaluated


class Trickle:
    """A body that arrives a few bytes at a time, slowly: a connection held open for nothing."""

    def __init__(self) -> None:
        self.sent = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for _ in range(100):
            self.sent += 1
            await asyncio.sleep(0.05)
            yield b"{"


READING_ROUTES = sorted(route for route in PROBES if route[0] in ("POST", "PUT") and route not in UNREAD_BODIES)


@pytest.mark.parametrize("route", READING_ROUTES, ids=lambda r: f"{r[0]} {r[1]}")
async def test_a_slow_body_is_cut_off_on_every_route_that_reads_one(
    settings: Settings, engine: AsyncEngine, world: World, route: tuple[str, str]
) -> None:
    app = create_app(
        settings.model_copy(update={"body_timeout_seconds": 0.3, "operator_token": OPERATOR_TOKEN}), engine
    )
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    probe = PROBES[route]
    headers = probe_headers(probe, world)
    async with httpx.AsyncClient(transport=transport, base_url="http://cauri.test") as client:
        before = await row_counts(engine)
        body = Trickle()
        url = url_of(route[1], {**world.ids, **probe.extra})
        response = await client.request(route[0], url, content=body, headers=headers)
        assert response.status_code in (403, 408), response.status_code  # the forms: no token, so 403
        assert body.sent < 20  # cut off after ~0.3 s of the 5 s it would take
        assert await row_counts(engine) == before
