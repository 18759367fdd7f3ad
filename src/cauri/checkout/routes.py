"""``/checkout/{id}``: the hosted page, its form posts, its status poll, and connectors' notifications."""

from __future__ import annotations

import io
import logging
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qsl

import orjson
import segno
from babel import Locale
from jinja2 import Environment, PackageLoader, select_autoescape
from sqlalchemy import Row
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from cauri.checkout import forms
from cauri.checkout.i18n import LANGUAGES, choose_language, format_money, translations
from cauri.checkout.security import (
    CSRF_COOKIE,
    SlidingWindow,
    csrf_token,
    csrf_valid,
    new_browser_secret,
    page_headers,
)
from cauri.connectors.base import ActionKind, AttemptRequest, CallbackRejected
from cauri.connectors.registry import ConnectorRegistry
from cauri.connectors.sandbox import TEST_CARDS, TEST_PHONES
from cauri.domain.attempts import AttemptRefused, AttemptStatus
from cauri.domain.checkout import MethodGroup, group_methods, offered_methods, return_url_for
from cauri.domain.methods import CATALOGUE, PHONE_KINDS, MethodKind, PaymentMethod
from cauri.domain.payments import FINAL_STATUSES, TransitionRefused, new_id
from cauri.store import attempts as store
from cauri.store.clock import as_utc, utcnow
from cauri.store.views import event_body

log = logging.getLogger("cauri.checkout")
templates = Environment(
    loader=PackageLoader("cauri.checkout", "templates"), autoescape=select_autoescape(default=True), auto_reload=False
)
LANG_COOKIE = "cauri_lang"
_FINAL = frozenset(s.value for s in FINAL_STATUSES)
#: Attempt creation per customer address: enough for honest retries, too few to hammer a provider.
ATTEMPTS_PER_CLIENT = SlidingWindow(limit=20, seconds=600)


def _gateway(request: Request) -> Any:
    return request.app.state.gateway


def _registry(request: Request) -> ConnectorRegistry:
    registry: ConnectorRegistry = request.app.state.connectors
    return registry


def _client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _callback_url(request: Request, connector: str) -> str:
    return f"{_gateway(request).settings.internal_url}/connectors/{connector}/callback"


#: A payment, its app and its latest attempt.
Loaded = tuple[Row[Any], Row[Any], Row[Any] | None]


async def _load(request: Request) -> Loaded | None:
    """The payment, its app and its latest attempt; an expired payment is cancelled on sight."""
    gateway = _gateway(request)
    payment_id = request.path_params["payment_id"]
    async with gateway.reader.connect() as conn:
        payment = await store.payment_for_checkout(conn, payment_id)
        if payment is None:
            return None
        app = await store.app_row(conn, payment.app_id)
        attempt = await store.latest_attempt(conn, payment_id)
    deadline = as_utc(payment.initiated_at) + timedelta(minutes=app.expiry_minutes)
    if payment.status not in _FINAL and deadline <= utcnow():
        try:
            await store.cancel_payment(gateway.engine, payment.id, "Expired.", event_body(gateway.public_url))
        except TransitionRefused:
            pass  # finished meanwhile
        return await _load(request)
    return payment, app, attempt


def _language(request: Request) -> str:
    return choose_language(
        request.query_params.get("lang"), request.cookies.get(LANG_COOKIE), request.headers.get("accept-language")
    )


def _methods(payment: Row[Any], app: Row[Any], registry: ConnectorRegistry) -> list[PaymentMethod]:
    offered = offered_methods(payment._mapping, app.enabled_methods)
    return [m for m in offered if registry.for_method(m, payment.environment) is not None]


def _page(
    request: Request,
    loaded: Loaded,
    *,
    errors: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    payment, app, attempt = loaded
    language = _language(request)
    gettext = translations(language).gettext
    settings = _gateway(request).settings
    browser_secret = request.cookies.get(CSRF_COOKIE) or new_browser_secret()
    methods = _methods(payment, app, _registry(request))
    final = payment.status in _FINAL
    waiting = not final and attempt is not None and attempt.status == AttemptStatus.PENDING.value
    customer = payment.customer
    restricted = payment.restricted_phone
    context = {
        "_": gettext,
        "lang": language,
        "other_languages": [lang for lang in LANGUAGES if lang != language],
        "payment": payment,
        "app_name": app.name,
        "amount": format_money(payment.amount, payment.currency, language),
        "sandbox": payment.environment == "sandbox",
        "state": "final" if final else "waiting" if waiting else "choose",
        "groups": [_group(g, language) for g in group_methods(methods)],
        "phone_kinds": [k.value for k in PHONE_KINDS],
        "fixed_phone": restricted["number"] if restricted else None,
        "customer_phone": customer.get("phone") or "",
        "need_country": not customer.get("country_code"),
        "attempt": attempt,
        "action": (attempt.next_action or {}) if attempt is not None else {},
        "last_failure": attempt.failure_message if attempt is not None and attempt.status == "failed" else None,
        "errors": errors or {},
        "form": form or {},
        "csrf": csrf_token(settings.secret, browser_secret, payment.id),
        "return_to": return_url_for(payment.return_url, payment.id, payment.status) if final else None,
        "test_phones": list(TEST_PHONES.items()),
        "test_cards": list(TEST_CARDS.items()),
        "version": _version(payment, attempt),
    }
    html = templates.get_template("checkout.html").render(context)
    response = HTMLResponse(html, status_code=status_code, headers=page_headers())
    secure = request.url.scheme == "https"
    if request.cookies.get(CSRF_COOKIE) != browser_secret:
        response.set_cookie(CSRF_COOKIE, browser_secret, httponly=True, samesite="strict", secure=secure,
                            path="/checkout")  # fmt: skip
    if request.query_params.get("lang") in LANGUAGES:
        response.set_cookie(LANG_COOKIE, language, max_age=365 * 86400, samesite="lax", secure=secure, path="/")
    return response


KIND_LABELS = {
    MethodKind.MOBILE_MONEY: "Mobile money",
    MethodKind.CARD: "Bank card",
    MethodKind.BANK_TRANSFER: "Bank transfer",
    MethodKind.QR: "QR code",
    MethodKind.USSD: "USSD",
    MethodKind.CRYPTO: "Crypto",
    MethodKind.WALLET: "Wallet",
    MethodKind.TEST: "Test method",
}


def _group(group: MethodGroup, language: str) -> dict[str, Any]:
    country = CATALOGUE.country(group.country) if group.country else None
    return {
        "country": Locale.parse(language).territories.get(country.code, country.name) if country else None,
        "flag": country.flag if country else "",
        "kind": KIND_LABELS[group.kind],
        "methods": group.methods,
    }


def _version(payment: Row[Any], attempt: Row[Any] | None) -> str:
    """Changes whenever the page would show something else: the poll compares it."""
    return f"{payment.status}:{attempt.id}:{attempt.status}" if attempt is not None else payment.status


def _not_found(request: Request) -> Response:
    gettext = translations(_language(request)).gettext
    html = templates.get_template("not_found.html").render({"_": gettext, "lang": _language(request)})
    return HTMLResponse(html, status_code=404, headers=page_headers())


async def show(request: Request) -> Response:
    loaded = await _load(request)
    if loaded is None:
        return _not_found(request)
    return _page(request, loaded)


async def status(request: Request) -> Response:
    loaded = await _load(request)
    if loaded is None:
        return JSONResponse({"error": "not found"}, status_code=404)
    payment, _, attempt = loaded
    return Response(
        orjson.dumps({"status": payment.status, "version": _version(payment, attempt)}),
        media_type="application/json",
        headers={"Cache-Control": "no-store"},
    )


async def _form(request: Request) -> dict[str, str]:
    raw = await request.body()
    if len(raw) > 8192:
        return {}
    return dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))


def _csrf_ok(request: Request, form: dict[str, str]) -> bool:
    secret = _gateway(request).settings.secret
    return csrf_valid(secret, request.cookies.get(CSRF_COOKIE), request.path_params["payment_id"], form.get("csrf"))


async def _posted(request: Request) -> tuple[Loaded, dict[str, str]] | Response:
    """A form post: the payment (else the 404 page) and the form, if its CSRF token is good (else 403)."""
    loaded = await _load(request)
    if loaded is None:
        return _not_found(request)
    form = await _form(request)
    if not _csrf_ok(request, form):
        return _forbidden(request)
    return loaded, form


def _forbidden(request: Request) -> Response:
    gettext = translations(_language(request)).gettext
    html = templates.get_template("expired_form.html").render(
        {"_": gettext, "lang": _language(request), "payment_id": request.path_params["payment_id"]}
    )
    return HTMLResponse(html, status_code=403, headers=page_headers())


def _see(request: Request) -> Response:
    return RedirectResponse(f"/checkout/{request.path_params['payment_id']}", status_code=303)


async def pay(request: Request) -> Response:
    posted = await _posted(request)
    if isinstance(posted, Response):
        return posted
    loaded, form = posted
    payment, app, _ = loaded
    gettext = translations(_language(request)).gettext
    if payment.status in _FINAL:
        return _see(request)
    errors: dict[str, str] = {}
    method = next((m for m in _methods(payment, app, _registry(request)) if m.code == form.get("method")), None)
    if method is None:
        return _page(request, loaded, errors={"method": gettext("Choose a payment method.")}, form=form,
                     status_code=422)  # fmt: skip
    if not method.min_amount <= payment.amount <= method.max_amount:
        errors["method"] = gettext("This amount cannot be paid with this method.")
    sandbox = payment.environment == "sandbox"
    phone = None
    card_number = card_expiry = None
    region = method.countries[0] if len(method.countries) == 1 else None
    if method.kind in PHONE_KINDS:
        restricted = payment.restricted_phone
        typed = form.get("phone", "").strip() or payment.customer.get("phone") or ""
        if restricted:
            phone = forms.normalize_phone(restricted["number"], restricted["country_code"], sandbox=True)
            if typed and forms.normalize_phone(typed, region, sandbox=sandbox) not in (phone, restricted["number"]):
                errors["phone"] = gettext("This payment can only be paid from the number shown.")
        elif not typed:
            errors["phone"] = gettext("Enter your mobile money number.")
        else:
            phone = forms.normalize_phone(typed, region, sandbox=sandbox)
            if phone is None:
                errors["phone"] = gettext("This is not a valid phone number for this method.")
    if method.kind is MethodKind.CARD:
        card_number = "".join(c for c in form.get("card_number", "") if c.isdigit())
        card_expiry = form.get("card_expiry", "")
        if not forms.luhn_valid(card_number):
            errors["card_number"] = gettext("Check the card number.")
        if not forms.expiry_valid(card_expiry):
            errors["card_expiry"] = gettext("Check the expiry date (MM/YY).")
        if not form.get("card_cvc", "").isdigit() or len(form.get("card_cvc", "")) not in (3, 4):
            errors["card_cvc"] = gettext("Check the security code.")
        if "country" in method.customer_fields and not payment.customer.get("country_code"):
            if not forms.country_valid(form.get("country", "")):
                errors["country"] = gettext("Choose your country.")
    if errors:
        return _page(request, loaded, errors=errors, form=form, status_code=422)
    if not ATTEMPTS_PER_CLIENT.allow(_client_ip(request)):
        return _page(request, loaded, errors={"method": gettext("Too many attempts. Wait a few minutes.")},
                     form=form, status_code=429)  # fmt: skip

    registry = _registry(request)
    connector = registry.for_method(method, payment.environment)
    assert connector is not None  # _methods offers only methods that have one
    gateway = _gateway(request)
    now = utcnow()
    attempt_id = new_id("att_")
    row = {
        "id": attempt_id,
        "payment_id": payment.id,
        "method": method.code,
        "connector": connector.name,
        "status": AttemptStatus.PENDING.value,
        "phone": phone,
        "card_last4": card_number[-4:] if card_number else None,
        "provider_reference": None,
        "next_action": None,
        "failure_code": None,
        "failure_message": None,
        "client_ip": _client_ip(request),
        "user_agent": request.headers.get("user-agent", "")[:500],
        "locale": _language(request),
        "created_at": now,
        "updated_at": now,
        "completed_at": None,
    }
    try:
        await store.start_attempt(gateway.engine, row, event_body(gateway.public_url))
    except (AttemptRefused, TransitionRefused) as exc:
        return _page(request, await _load(request) or loaded, errors={"method": gettext(exc.message)}, form=form,
                     status_code=409)  # fmt: skip
    started = await connector.start(
        AttemptRequest(
            attempt_id, payment.id, method, payment.amount, payment.currency, phone, card_number, card_expiry
        ),
        _callback_url(request, connector.name),
    )
    action = {"kind": started.action.kind.value, "data": dict(started.action.data)}
    await store.record_started(gateway.engine, attempt_id, started.reference, action)
    if started.action.kind is ActionKind.AUTHENTICATE:
        return RedirectResponse(f"/checkout/{payment.id}/authenticate", status_code=303)
    return _see(request)


async def authenticate_page(request: Request) -> Response:
    loaded = await _load(request)
    if loaded is None:
        return _not_found(request)
    payment, _, attempt = loaded
    if attempt is None or attempt.status != "pending" or (attempt.next_action or {}).get("kind") != "authenticate":
        return _see(request)
    language = _language(request)
    browser_secret = request.cookies.get(CSRF_COOKIE) or ""
    html = templates.get_template("authenticate.html").render(
        {
            "_": translations(language).gettext,
            "lang": language,
            "payment": payment,
            "attempt": attempt,
            "amount": format_money(payment.amount, payment.currency, language),
            "csrf": csrf_token(_gateway(request).settings.secret, browser_secret, payment.id),
        }
    )
    return HTMLResponse(html, headers=page_headers())


async def authenticate(request: Request) -> Response:
    posted = await _posted(request)
    if isinstance(posted, Response):
        return posted
    loaded, form = posted
    _, _, attempt = loaded
    if attempt is not None and attempt.status == "pending":
        connector = _registry(request).by_name(attempt.connector)
        if connector is not None:
            await connector.confirm_authentication(
                attempt._mapping, form.get("decision") == "approve", _callback_url(request, connector.name)
            )
    return _see(request)


async def cancel(request: Request) -> Response:
    posted = await _posted(request)
    if isinstance(posted, Response):
        return posted
    loaded, _form_fields = posted
    gateway = _gateway(request)
    try:
        await store.cancel_payment(gateway.engine, loaded[0].id, "Cancelled by the customer.",
                                   event_body(gateway.public_url))  # fmt: skip
    except TransitionRefused:
        pass  # already final: the page shows how it ended
    return _see(request)


async def qr_code(request: Request) -> Response:
    loaded = await _load(request)
    if loaded is None or loaded[2] is None:
        return Response(status_code=404)
    payload = ((loaded[2].next_action or {}).get("data") or {}).get("qr_payload")
    if not payload:
        return Response(status_code=404)
    svg = io.BytesIO()
    segno.make(payload, error="m").save(svg, kind="svg", scale=6, border=2)
    return Response(svg.getvalue(), media_type="image/svg+xml", headers={"Cache-Control": "no-store"})


async def connector_callback(request: Request) -> Response:
    """A provider's notification: authenticated by the connector, applied once by the state machine."""
    connector = _registry(request).by_name(request.path_params["connector"])
    if connector is None:
        return JSONResponse({"received": False, "error": "unknown connector"}, status_code=404)
    body = await request.body()
    try:
        outcome = connector.parse_callback(body, request.headers)
    except CallbackRejected as exc:
        log.warning("connector notification rejected", extra={"connector": connector.name, "reason": str(exc)})
        return JSONResponse({"received": False, "error": str(exc)}, status_code=400)
    gateway = _gateway(request)
    applied = await store.finish_attempt(
        gateway.engine, outcome.attempt_id, outcome.status, outcome.failure_code, outcome.failure_message,
        event_body(gateway.public_url),
    )  # fmt: skip
    return JSONResponse({"received": True, "applied": applied})


# Pages and their assets travel compressed: the customer is often on a slow, metered mobile connection.
_GZIP = [Middleware(GZipMiddleware, minimum_size=500)]

routes = [
    Route("/checkout/{payment_id:payment_id}", show, methods=["GET"], middleware=_GZIP),
    Route("/checkout/{payment_id:payment_id}/status", status, methods=["GET"]),
    Route("/checkout/{payment_id:payment_id}/pay", pay, methods=["POST"]),
    Route("/checkout/{payment_id:payment_id}/cancel", cancel, methods=["POST"]),
    Route("/checkout/{payment_id:payment_id}/authenticate", authenticate_page, methods=["GET"], middleware=_GZIP),
    Route("/checkout/{payment_id:payment_id}/authenticate", authenticate, methods=["POST"]),
    Route("/checkout/{payment_id:payment_id}/qr.svg", qr_code, methods=["GET"]),
    Route("/connectors/{connector}/callback", connector_callback, methods=["POST"]),
    Mount(
        "/checkout-static",
        app=StaticFiles(packages=[("cauri.checkout", "static")]),
        name="checkout-static",
        middleware=_GZIP,
    ),
]
