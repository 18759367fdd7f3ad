"""``/checkout/{id}``: the hosted page, its form posts, its status poll, and connectors' notifications."""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode

import orjson
import phonenumbers
import segno
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
from cauri.checkout import view
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
from cauri.domain.checkout import return_url_for
from cauri.domain.countries import is_country
from cauri.domain.errors import NotFound
from cauri.domain.messages import N_
from cauri.domain.methods import CATALOGUE, PHONE_KINDS, MethodKind, PaymentMethod
from cauri.domain.networks import number_plan, predict_network
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
    gateway = _gateway(request)
    max_age = timedelta(hours=gateway.settings.rate_max_age_hours)
    return await service.load_checkout(gateway.uow(), payment_id, rate_max_age=max_age)


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
    form = form or {}
    converted = _converted(loaded, _registry(request), language)
    final, waiting = loaded.is_final, loaded.is_waiting
    context: dict[str, Any] = {
        "_": gettext,
        "lang": language,
        "other_languages": [lang for lang in LANGUAGES if lang != language],
        # Another language keeps the step (its country and kind) the customer is on.
        "language_links": {
            lang: f"/checkout/{payment.id}?" + urlencode({**request.query_params, "lang": lang})
            for lang in LANGUAGES
            if lang != language
        },
        "payment": payment,
        "app_name": app.name,
        "amount": format_money(payment.amount, payment.currency, language),
        "sandbox": payment.environment == "sandbox",
        "state": "final" if final else "waiting" if waiting else "choose",
        "attempt": attempt,
        "attempt_phone": _display_phone(attempt.phone if attempt is not None else None),
        "attempt_method": _method_name(attempt.method if attempt is not None else None, language),
        "action": (attempt.next_action or {}) if attempt is not None else {},
        "errors": errors or {},
        "form": form,
        "csrf": csrf_token(settings.secret, browser_secret, payment.id),
        "return_to": return_url_for(payment.return_url, payment.id, payment.status) if final else None,
        "version": loaded.version,
        **converted,
    }
    if waiting:
        context.update(_waiting(loaded))
    elif not final:
        context.update(_choosing(request, loaded, form, language, converted["converted"]))
        context["pay_amount"] = _pay_amount(context["kind"], converted["debits"]) or context["amount"]
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


def _converted(loaded: CheckoutState, registry: ConnectorRegistry, language: str) -> dict[str, Any]:
    """What the page says of other currencies: each converted method's "100 $ US ≈ 155 025 ₦", the amount an
    attempt under way debits, and why methods the payment names are missing (no fresh rate)."""
    payment, attempt = loaded.payment, loaded.attempt
    price = format_money(payment.amount, payment.currency, language)
    gettext = translations(language).gettext
    conversions = service.conversions(loaded, registry)
    debits = {code: format_money(c.amount, c.currency, language) for code, c in conversions.items()}
    return {
        "converted": {code: f"{price} ≈ {debit}" for code, debit in debits.items()},
        "debits": debits,
        "amount_debited": format_money(attempt.amount_debited, attempt.currency_debited, language)
        if attempt is not None and attempt.amount_debited is not None
        else None,
        "unpriced": [
            gettext("Payment in %(currency)s is not available right now: no current %(base)s→%(quote)s exchange rate.")
            % {"currency": code, "base": payment.currency, "quote": code}
            for code in service.unpriced_currencies(loaded, registry)
        ],
    }


def _pay_amount(kind: view.KindView | None, debits: dict[str, str]) -> str | None:
    """What the pay button says is paid: the amount in the methods' own currency when every method of the kind
    shown debits the same converted amount (the customer is charged that, not the price); else None."""
    amounts = {debits.get(m.code) for m in kind.methods} if kind is not None else set()
    return amounts.pop() if len(amounts) == 1 else None


def _choosing(
    request: Request, loaded: CheckoutState, form: dict[str, str], language: str, second_amounts: dict[str, str]
) -> dict[str, Any]:
    """The choice step: the country (when the methods span several), then that country's methods by kind,
    one kind at a time (``?kind=``), mobile money first with its number before its networks."""
    payment, attempt = loaded.payment, loaded.attempt
    methods = service.payment_methods(loaded, _registry(request))
    customer = payment.customer
    restricted = payment.restricted_phone
    # After a failed attempt its number is there again (and its network chosen, below): trying again once the
    # phone's owner is ready is one tap, not the number typed anew.
    failed = attempt is not None and attempt.status == "failed" and attempt.failure_code != "abandoned"
    retried = attempt.phone if failed and attempt is not None else None
    typed_phone = form.get("phone") or (restricted["number"] if restricted else customer.get("phone") or retried or "")
    known_phone = not form.get("phone") and not restricted and typed_phone
    posted = CATALOGUE.resolve_payment_method(form.get("method", ""))
    # The merchant's restriction is the country: there is nothing to ask.
    only = payment.restrict_country_code or (restricted["country_code"] if restricted else None)
    codes = [] if only else view.countries_of(methods)
    country = only or view.guess_country(
        methods, asked=form.get("region") or request.query_params.get("country"), customer=customer,
        phone_region=_phone_region(customer.get("phone")), accept_language=request.headers.get("accept-language"),
    )  # fmt: skip
    ready = country is not None or not codes  # else the page asks the country first
    kinds = view.kinds_in(methods, country, language, second_amounts) if ready else []
    # The kind shown: the one asked for, else the one of the form just refused or of the attempt that failed.
    last = CATALOGUE.resolve_payment_method(attempt.method) if attempt is not None else None
    before = posted or last
    asked_kind = request.query_params.get("kind") or (before.kind.value if before is not None else None)
    kind = next((k for k in kinds if k.kind == asked_kind), kinds[0] if kinds else None)
    shown = [m for m in methods if kind is not None and m.kind.value == kind.kind]
    # Where typed numbers are read: the chosen country, else the one country of the methods shown.
    served = {code for m in shown for code in m.countries}
    region = country or (served.pop() if len(served) == 1 else None)
    chosen = form.get("method") or _predicted_method(typed_phone, region, shown)
    if not chosen and failed and last is not None and last in shown:
        chosen = last.code
    if kind is not None and len(kind.methods) == 1:
        chosen = kind.methods[0].code
    payer_country = str(customer.get("country_code") or "")
    failure = attempt.failure_message if attempt is not None and attempt.status == "failed" else None
    return {
        "countries": view.country_views(codes, language) if len(codes) > 1 else [],
        "country": country,
        "region": region,
        "kinds": kinds,
        "kind": kind,
        "chosen": chosen,
        "phone_kind": kind is not None and MethodKind(kind.kind) in PHONE_KINDS,
        "plan": view.plan_attributes(number_plan(region, shown)) if region else {},
        "calling_code": phonenumbers.country_code_for_region(region) if region else None,
        "fixed_phone": restricted["number"] if restricted else None,
        # The merchant's copy of the number (22997000000) reads as the customer writes it beside the "+229".
        "typed_phone": _national(typed_phone, region) if known_phone else typed_phone,
        "need_country": not is_country(payer_country),
        "card_countries": view.all_countries(language) if kind is not None and kind.kind == "card" else (),
        # Else the browser's region (fr-BJ): the holder need not scroll a list of every country to pay.
        "card_country": form.get("country") or payer_country or country or _card_region(request),
        # The failure message is a connector's (or the service's) N_ literal: translated here, where it is shown.
        # A customer who left an attempt for another method needs no account of it.
        "last_failure": translate(language, failure)
        if failure and attempt is not None and attempt.failure_code != "abandoned"
        else None,
        "test_phones": _outcomes(TEST_PHONES, language),
        "test_cards": _outcomes(TEST_CARDS, language),
    }


def _waiting(loaded: CheckoutState) -> dict[str, Any]:
    action = (loaded.attempt.next_action or {}) if loaded.attempt is not None else {}
    data = action.get("data") or {}
    qr = data.get("qr_payload")
    return {
        "qr_svg": segno.make(qr, error="m").svg_inline(scale=5, border=2, omitsize=True) if qr else None,
        "processor_url": view.safe_redirect(data.get("url")) if action.get("kind") == ActionKind.REDIRECT else None,
        "ussd_link": "tel:" + data["ussd_code"].replace("#", "%23") if data.get("ussd_code") else None,
    }


def _card_region(request: Request) -> str:
    regions = [code for code in view.browser_regions(request.headers.get("accept-language")) if is_country(code)]
    return regions[0] if regions else ""


def _predicted_method(phone: str, country: str | None, shown: list[PaymentMethod]) -> str:
    return (predict_network(phone, country, shown) or "") if phone and country else ""


def _phone_region(phone: object) -> str | None:
    """The country of a number given with its country code (``22997000000`` or ``+229…``), if it is valid."""
    if not isinstance(phone, str) or not phone.strip():
        return None
    try:
        parsed = phonenumbers.parse("+" + phone.strip().lstrip("+"))
    except phonenumbers.NumberParseException:
        return None
    return phonenumbers.region_code_for_number(parsed) if phonenumbers.is_valid_number(parsed) else None


def _display_phone(digits: str | None) -> str | None:
    """``2290197000000`` -> ``+229 01 97 00 00 00``; a number without a known country code stays as digits."""
    if not digits:
        return None
    try:
        parsed = phonenumbers.parse("+" + digits)
    except phonenumbers.NumberParseException:
        return digits
    if phonenumbers.is_valid_number(parsed):
        return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    national = phonenumbers.national_significant_number(parsed)
    known = phonenumbers.region_code_for_country_code(parsed.country_code or 0) != "ZZ"
    return f"+{parsed.country_code} {national}" if known else digits


def _national(phone: str, region: str | None) -> str:
    try:
        parsed = phonenumbers.parse("+" + phone.strip().lstrip("+"))
    except phonenumbers.NumberParseException:
        return phone
    if region and phonenumbers.is_valid_number(parsed) and phonenumbers.region_code_for_number(parsed) == region:
        return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
    # Beside the "+229" the page shows, a number the plan does not know (a sandbox test number) loses its own.
    code = str(phonenumbers.country_code_for_region(region)) if region else ""
    digits = phone.strip().lstrip("+")
    if code != "0" and digits.isdigit() and digits.startswith(code) and len(digits) > len(code) + 6:
        return digits[len(code) :]
    return phone


def _method_name(code: str | None, language: str) -> str | None:
    method = CATALOGUE.resolve_payment_method(code) if code else None
    return view.name_in_sentence(method, language) if method is not None else None


#: What a sandbox test number does, in the page's table of them.
OUTCOME_LABELS = {
    AttemptStatus.SUCCESS: N_("success"),
    AttemptStatus.FAILED: N_("failed"),
    AttemptStatus.PENDING: N_("pending"),
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
    if service.authentication_due(loaded):  # the card's verification is its own page, shown once
        return RedirectResponse(f"/checkout/{loaded.payment.id}/authenticate", status_code=303)
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
        region=form.get("region", ""),
    )  # fmt: skip
    # A refused form comes back as typed, less the security code (never sent back to the browser).
    form = {name: value for name, value in form.items() if name not in ("card_cvc", "csrf")}
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
        if action is ActionKind.REDIRECT:
            return await _to_processor(request)
        return _see(request)
    return _page(request, await _load(request) or loaded, errors={"method": refused}, form=form, status_code=409)


async def _to_processor(request: Request) -> Response:
    """Live cards: the processor's own page, if its address is one a browser may safely be sent to; else the
    waiting page (the processor's notification or the reconciliation settles the attempt)."""
    loaded = await _load(request)
    attempt = loaded.attempt if loaded is not None else None
    data = ((attempt.next_action or {}).get("data") or {}) if attempt is not None else {}
    target = view.safe_redirect(data.get("url"))
    if target is None:
        log.warning("processor page refused", extra={"attempt_id": attempt.id if attempt is not None else None})
        return _see(request)
    return RedirectResponse(target, status_code=303)


async def authenticate_page(request: Request) -> Response:
    loaded = await _load(request)
    if loaded is None:
        return _not_found(request)
    payment, attempt = loaded.payment, loaded.attempt
    if attempt is None or not service.authentication_due(loaded):
        return _see(request)
    language = _language(request)
    browser_secret = request.cookies.get(CSRF_COOKIE) or ""
    html = templates.get_template("authenticate.html").render(
        {
            "_": translations(language).gettext,
            "lang": language,
            "payment": payment,
            "attempt": attempt,
            "amount": format_money(attempt.amount_debited, attempt.currency_debited, language)
            if attempt.amount_debited is not None
            else format_money(payment.amount, payment.currency, language),
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
        _gateway(request).uow(), _registry(request), loaded, form.get("decision") == "approve", _callback_url(request)
    )
    return _see(request)


async def retry(request: Request) -> Response:
    """From the waiting page: leave the attempt under way and choose another method."""
    posted = await _posted(request)
    if isinstance(posted, Response):
        return posted
    loaded, _form_fields = posted
    await service.abandon_attempt(_gateway(request).uow(), loaded.payment.id)
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
    Route("/checkout/{payment_id:payment_id}/retry", retry, methods=["POST"]),
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
