"""``/checkout/{id}``: the hosted page, its form posts, its status poll, and connectors' notifications."""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

import orjson
import segno
from babel import Locale
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from cauri.api.body import read_body
from cauri.api.context import Gateway, gateway_of
from cauri.api.errors import ApiError
from cauri.api.forwarded import client_address, limit_key
from cauri.api.identifiers import path_id
from cauri.api.notifications import receive
from cauri.checkout.security import (
    CSRF_COOKIE,
    csrf_token,
    csrf_valid,
    new_browser_secret,
    page_headers,
)
from cauri.connectors.base import ActionKind
from cauri.connectors.registry import ConnectorRegistry
from cauri.domain.attempts import AttemptRefused, AttemptStatus
from cauri.domain.checkout import MethodGroup, group_methods, return_url_for
from cauri.domain.errors import NotFound
from cauri.domain.messages import N_
from cauri.domain.methods import CATALOGUE, PHONE_KINDS, MethodKind
from cauri.domain.payments import TransitionRefused
from cauri.domain.sandbox import TEST_CARDS, TEST_PHONES
from cauri.i18n import LANGUAGES, choose_language, format_money, translate, translations
from cauri.services import checkout as service
from cauri.services.checkout import AttemptForm, AttemptFormInvalid, CheckoutState, Payer
from cauri.services.notifications import handle_notification

log = logging.getLogger("cauri.checkout")
#: The page's largest form (a card) is well under 1 KB; a provider's notification, a few KB.
FORM_MAX = 8192
templates = Environment(
    loader=PackageLoader("cauri.checkout", "templates"), autoescape=select_autoescape(default=True), auto_reload=False
)
LANG_COOKIE = "cauri_lang"


def _gateway(request: Request) -> Gateway:
    return gateway_of(request)


def _registry(request: Request) -> ConnectorRegistry:
    return gateway_of(request).runtime.connectors


def _callback_url(request: Request) -> Callable[[str], str]:
    return _gateway(request).runtime.callbacks.payment


async def _load(request: Request) -> CheckoutState | None:
    try:
        payment_id = path_id(request, "payment_id", "not found")
    except NotFound:
        return None
    return await service.load_checkout(_gateway(request).uow(), payment_id)


def _language(request: Request) -> str:
    return choose_language(
        request.query_params.get("lang"), request.cookies.get(LANG_COOKIE), request.headers.get("accept-language")
    )


def _page(
    request: Request,
    loaded: CheckoutState,
    *,
    errors: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    payment, app, attempt = loaded.payment, loaded.app, loaded.attempt
    language = _language(request)
    gettext = translations(language).gettext
    settings = _gateway(request).settings
    browser_secret = request.cookies.get(CSRF_COOKIE) or new_browser_secret()
    methods = service.payment_methods(loaded, _registry(request))
    final, waiting = loaded.is_final, loaded.is_waiting
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
        # The failure message is a connector's (or the service's) N_ literal: translated here, where it is shown.
        "last_failure": translate(language, attempt.failure_message)
        if attempt is not None and attempt.status == "failed" and attempt.failure_message
        else None,
        "errors": errors or {},
        "form": form or {},
        "csrf": csrf_token(settings.secret, browser_secret, payment.id),
        "return_to": return_url_for(payment.return_url, payment.id, payment.status) if final else None,
        "test_phones": _outcomes(TEST_PHONES, language),
        "test_cards": _outcomes(TEST_CARDS, language),
        "version": loaded.version,
    }
    html = templates.get_template("checkout.html").render(context)
    response = HTMLResponse(html, status_code=status_code, headers=page_headers())
    # The scheme is the client's when a trusted proxy says so; the public URL covers a proxy that does not.
    secure = request.url.scheme == "https" or settings.public_https
    if request.cookies.get(CSRF_COOKIE) != browser_secret:
        response.set_cookie(CSRF_COOKIE, browser_secret, httponly=True, samesite="strict", secure=secure,
                            path="/checkout")  # fmt: skip
    if request.query_params.get("lang") in LANGUAGES:
        response.set_cookie(LANG_COOKIE, language, max_age=365 * 86400, samesite="lax", secure=secure, path="/")
    return response


KIND_LABELS = {
    MethodKind.MOBILE_MONEY: N_("Mobile money"),
    MethodKind.CARD: N_("Bank card"),
    MethodKind.BANK_TRANSFER: N_("Bank transfer"),
    MethodKind.QR: N_("QR code"),
    MethodKind.USSD: N_("USSD"),
    MethodKind.CRYPTO: N_("Crypto"),
    MethodKind.WALLET: N_("Wallet"),
    MethodKind.TEST: N_("Test method"),
}
#: What a sandbox test number does, in the page's table of them.
OUTCOME_LABELS = {
    AttemptStatus.SUCCESS: N_("success"),
    AttemptStatus.FAILED: N_("failed"),
    AttemptStatus.PENDING: N_("pending"),
}


def _group(group: MethodGroup, language: str) -> dict[str, Any]:
    country = CATALOGUE.country(group.country) if group.country else None
    return {
        "country": Locale.parse(language).territories.get(country.code, country.name) if country else None,
        "flag": country.flag if country else "",
        "kind": translate(language, KIND_LABELS[group.kind]),
        "methods": group.methods,
    }


def _outcomes(numbers: dict[str, tuple[AttemptStatus, str | None]], language: str) -> list[tuple[str, str]]:
    return [(number, translate(language, OUTCOME_LABELS[status])) for number, (status, _reason) in numbers.items()]


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
    return Response(
        orjson.dumps({"status": loaded.payment.status, "version": loaded.version}),
        media_type="application/json",
        headers={"Cache-Control": "no-store"},
    )


async def _form(request: Request) -> dict[str, str]:
    """The posted form; one larger than any form of the page is not read past ``FORM_MAX`` bytes (and, with no
    CSRF token, gets the expired-form page)."""
    try:
        raw = await read_body(request, FORM_MAX)
    except ApiError:
        return {}
    return dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))


def _csrf_ok(request: Request, form: dict[str, str]) -> bool:
    secret = _gateway(request).settings.secret
    return csrf_valid(secret, request.cookies.get(CSRF_COOKIE), request.path_params["payment_id"], form.get("csrf"))


async def _posted(request: Request) -> tuple[CheckoutState, dict[str, str]] | Response:
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
    language = _language(request)
    gettext = translations(language).gettext
    if loaded.is_final:
        return _see(request)
    registry = _registry(request)
    fields = AttemptForm(
        method=form.get("method", ""), phone=form.get("phone", ""), card_number=form.get("card_number", ""),
        card_expiry=form.get("card_expiry", ""), card_cvc=form.get("card_cvc", ""), country=form.get("country", ""),
    )  # fmt: skip
    try:
        checked = service.check_attempt_form(loaded, service.payment_methods(loaded, registry), fields)
    except AttemptFormInvalid as exc:
        errors = {name: translate(language, message) for name, message in exc.errors.items()}
        return _page(request, loaded, errors=errors, form=form, status_code=exc.status)
    if not _gateway(request).attempts_per_client.allow(limit_key(client_address(request))):
        return _page(request, loaded, errors={"method": gettext("Too many attempts. Wait a few minutes.")},
                     form=form, status_code=429)  # fmt: skip
    payer = Payer(client_address(request), request.headers.get("user-agent", ""), _language(request))
    try:
        action = await service.start_attempt(
            _gateway(request).uow(), registry, loaded, checked, payer, _callback_url(request)
        )
    except AttemptRefused as exc:  # its message is one of the service's N_ literals
        refused = translate(language, exc.message)
    except TransitionRefused:  # the payment moved meanwhile (the state machine's words are the API's, in English)
        refused = gettext("This payment changed in the meantime.")
    else:
        if action is ActionKind.AUTHENTICATE:
            return RedirectResponse(f"/checkout/{loaded.payment.id}/authenticate", status_code=303)
        return _see(request)
    return _page(request, await _load(request) or loaded, errors={"method": refused}, form=form, status_code=409)


async def authenticate_page(request: Request) -> Response:
    loaded = await _load(request)
    if loaded is None:
        return _not_found(request)
    payment, attempt = loaded.payment, loaded.attempt
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
    await service.confirm_authentication(
        _registry(request), loaded, form.get("decision") == "approve", _callback_url(request)
    )
    return _see(request)


async def cancel(request: Request) -> Response:
    posted = await _posted(request)
    if isinstance(posted, Response):
        return posted
    loaded, _form_fields = posted
    try:
        await service.cancel_payment(_gateway(request).uow(), loaded.payment.id, N_("Cancelled by the customer."))
    except TransitionRefused:
        pass  # already final: the page shows how it ended
    return _see(request)


async def qr_code(request: Request) -> Response:
    loaded = await _load(request)
    if loaded is None or loaded.attempt is None:
        return Response(status_code=404)
    payload = ((loaded.attempt.next_action or {}).get("data") or {}).get("qr_payload")
    if not payload:
        return Response(status_code=404)
    svg = io.BytesIO()
    segno.make(payload, error="m").save(svg, kind="svg", scale=6, border=2)
    return Response(svg.getvalue(), media_type="image/svg+xml", headers={"Cache-Control": "no-store"})


async def connector_callback(request: Request) -> Response:
    """A provider's notification (of a payment, or of a payout or a refund when the provider posts every event to
    one URL): authenticated by the connector, applied once by the state machine of what it names."""
    return await receive(request, handle_notification, "connector notification", log)


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
