"""``/dashboard``: the login, the payments list and export, a payment's page and its actions (resend a webhook,
refund, cancel, mark processed), the audit log."""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode

import orjson
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from cauri.api.body import read_body
from cauri.api.context import Gateway, gateway_of
from cauri.api.errors import ApiError
from cauri.api.forwarded import client_address, limit_key
from cauri.api.identifiers import is_identifier
from cauri.checkout.security import page_headers
from cauri.dashboard.security import (
    COOKIE_PATH,
    LOGIN_COOKIE,
    SESSION_COOKIE,
    form_token,
    form_token_valid,
    new_login_secret,
)
from cauri.domain.dashboard import (
    DELIVERY_STATUS_LABELS,
    EMAIL_KIND_LABELS,
    EMAIL_STATUS_LABELS,
    SEARCH_FIELDS,
    PaymentSearch,
    csv_cell,
    parse_search,
)
from cauri.domain.errors import DomainError, NotFound, ValidationFailed
from cauri.domain.messages import N_
from cauri.domain.methods import CATALOGUE
from cauri.domain.payments import PaymentStatus, ProcessRefused, TransitionRefused
from cauri.domain.users import Action, Forbidden, may
from cauri.i18n import LANGUAGES, choose_language, format_money, translate, translations
from cauri.services import audit as audit_service
from cauri.services import dashboard as service
from cauri.services import users as user_service
from cauri.services.users import LoginRefused, LoginThrottled, Session

log = logging.getLogger("cauri.dashboard")
#: The largest form: a provider account's, with up to three credentials of ``MAX_CREDENTIAL`` (4,096) characters,
#: each up to three times longer once form-encoded; anything larger reads as empty (and is refused).
FORM_MAX = 48 * 1024
LANG_COOKIE = "cauri_lang"
templates = Environment(
    loader=PackageLoader("cauri.dashboard", "templates"), autoescape=select_autoescape(default=True), auto_reload=False
)

STATUS_LABELS = {
    PaymentStatus.INITIATED: N_("initiated"),
    PaymentStatus.PENDING: N_("pending"),
    PaymentStatus.SUCCESS: N_("success"),
    PaymentStatus.FAILED: N_("failed"),
    PaymentStatus.CANCELLED: N_("cancelled"),
}
#: The roles, as the page header shows them.
ROLE_LABELS = (N_("owner"), N_("developer"), N_("viewer"))
#: What a redirect after an action says on the page it lands on (a code in the URL, never text).
NOTICES = {
    "resent": N_("The webhook is being sent again."),
    "refunded": N_("The refund was created."),
    "cancelled": N_("The payment was cancelled."),
    "changed": N_("This payment changed in the meantime."),
    "processed": N_("The payment was marked processed."),
}


def _gateway(request: Request) -> Gateway:
    return gateway_of(request)


def _language(request: Request) -> str:
    return choose_language(
        request.query_params.get("lang"), request.cookies.get(LANG_COOKIE), request.headers.get("accept-language")
    )


def _secure(request: Request) -> bool:
    return request.url.scheme == "https" or _gateway(request).settings.public_https


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else ""


def _labelled(language: str, labels: Mapping[Any, str]) -> Callable[[str], str]:
    """A stored code (a status, a kind) as the page's word for it; a code the table lacks is shown as it is."""
    return lambda code: translate(language, labels.get(code) or code)


def _render(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> HTMLResponse:
    language = _language(request)
    gettext = translations(language).gettext
    html = templates.get_template(name).render(
        {
            "_": gettext,
            "lang": language,
            "other_languages": [lang for lang in LANGUAGES if lang != language],
            # The same page in another language: its filters kept (a form's answer has none to keep).
            "lang_query": lambda other: urlencode(
                [(k, v) for k, v in request.query_params.multi_items() if k != "lang"] + [("lang", other)]
            ),
            "when": _when,
            "money": lambda amount, currency: format_money(amount, currency, language),
            "status_label": _labelled(language, STATUS_LABELS),
            "translate": lambda message: translate(language, message),
            # A webhook delivery's and an email's state and an email's kind: stored as codes, shown as words.
            "delivery_status": _labelled(language, DELIVERY_STATUS_LABELS),
            "email_status": _labelled(language, EMAIL_STATUS_LABELS),
            "email_kind": _labelled(language, EMAIL_KIND_LABELS),
            **context,
        }
    )
    response = HTMLResponse(html, status_code=status_code, headers=page_headers())
    if request.query_params.get("lang") in LANGUAGES:
        response.set_cookie(LANG_COOKIE, language, max_age=365 * 86400, samesite="lax", secure=_secure(request),
                            path="/")  # fmt: skip
    return response


async def _session(request: Request) -> Session | None:
    gateway = _gateway(request)
    return await user_service.current_session(gateway.uow(), gateway.settings, request.cookies.get(SESSION_COOKIE))


def _to_login() -> Response:
    response = RedirectResponse("/dashboard/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path=COOKIE_PATH)
    return response


def _csrf(request: Request, session: Session) -> str:
    return form_token(_gateway(request).settings.secret, "session", session.token_hash.hex())


async def _form(request: Request) -> dict[str, str]:
    """The posted form; one larger than any of these pages' forms, or too slow to arrive, reads as empty (and,
    with no token, is refused)."""
    try:
        raw = await read_body(request, FORM_MAX)
    except ApiError:
        return {}
    return dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))


async def _posted(request: Request) -> tuple[Session, dict[str, str]] | Response:
    """A form post from a logged-in user with the session's token; else 403 (a session that ended meanwhile
    too: reloading the page leads to the login)."""
    session = await _session(request)
    form = await _form(request)
    secret = _gateway(request).settings.secret
    if session is None or not form_token_valid(secret, "session", session.token_hash.hex(), form.get("csrf")):
        return _error(request, session, 403, N_("This form has expired. Reload the page and try again."))
    return session, form


def _error(request: Request, session: Session | None, status: int, message: str) -> Response:
    context: dict[str, Any] = {
        "session": session,
        "message": translate(_language(request), message),
        "apps": [],
        "app": None,
    }
    if session is not None:
        context["csrf"] = _csrf(request, session)
    return _render(request, "error.html", context, status_code=status)


# Login and logout.


def _login_page(request: Request, *, error: str | None = None, email: str = "", status_code: int = 200) -> Response:
    secret = request.cookies.get(LOGIN_COOKIE) or new_login_secret()
    csrf = form_token(_gateway(request).settings.secret, "login", secret)
    response = _render(request, "login.html", {"csrf": csrf, "error": error, "email": email, "session": None},
                       status_code=status_code)  # fmt: skip
    if request.cookies.get(LOGIN_COOKIE) != secret:
        response.set_cookie(LOGIN_COOKIE, secret, httponly=True, samesite="strict", secure=_secure(request),
                            path=COOKIE_PATH)  # fmt: skip
    return response


async def login_page(request: Request) -> Response:
    if await _session(request) is not None:
        return RedirectResponse("/dashboard/payments", status_code=303)
    return _login_page(request)


async def login(request: Request) -> Response:
    form = await _form(request)
    gateway = _gateway(request)
    if not form_token_valid(gateway.settings.secret, "login", request.cookies.get(LOGIN_COOKIE), form.get("csrf")):
        return _error(request, None, 403, N_("This form has expired. Reload the page and try again."))
    email = form.get("email", "")
    address = limit_key(client_address(request))
    try:
        token, _session_opened = await user_service.log_in(
            gateway.uow(), gateway.settings, email, form.get("password", ""), form.get("code", ""), address
        )
    except LoginThrottled:
        return _login_page(request, error=N_("Too many failed logins. Wait a few minutes and try again."),
                           email=email, status_code=429)  # fmt: skip
    except LoginRefused:
        return _login_page(request, error=N_("Wrong email, password or code."), email=email, status_code=401)
    response = RedirectResponse("/dashboard/payments", status_code=303)
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="lax", secure=_secure(request),
                        path=COOKIE_PATH)  # fmt: skip
    response.delete_cookie(LOGIN_COOKIE, path=COOKIE_PATH)
    return response


async def logout(request: Request) -> Response:
    posted = await _posted(request)
    if isinstance(posted, Response):
        return posted
    session, _form_fields = posted
    await user_service.log_out(_gateway(request).uow(), session)
    return _to_login()


async def home(request: Request) -> Response:
    return RedirectResponse("/dashboard/payments", status_code=303)


# Payments.


async def _context(request: Request, session: Session) -> dict[str, Any]:
    apps = await service.apps_of(_gateway(request).uow(), session)
    wanted = request.query_params.get("app", "")
    app = next((a for a in apps if a.id == wanted), apps[0] if apps else None)
    return {"session": session, "apps": apps, "app": app, "csrf": _csrf(request, session)}


def _query(search: PaymentSearch, app_id: str, **extra: str) -> str:
    return urlencode({"app": app_id, **search.echo, **extra})


async def payments_page(request: Request) -> Response:
    session = await _session(request)
    if session is None:
        return _to_login()
    context = await _context(request, session)
    app = context["app"]
    query = {k: request.query_params.get(k, "") for k in SEARCH_FIELDS}
    errors: dict[str, list[str]] = {}
    try:
        search = parse_search(query)
    except ValidationFailed as exc:
        errors = exc.errors.by_field if exc.errors else {}
        search = PaymentSearch(echo={})
    page = None
    if app is not None:
        page = await service.search_payments(_gateway(request).uow(), session, app.id, search,
                                             request.query_params.get("cursor"))  # fmt: skip
    language = _language(request)
    context.update(
        {
            "search": search,
            "form": query,
            "errors": {name: [translate(language, m) for m in ms] for name, ms in errors.items()},
            "page": page,
            "statuses": [(s.value, translate(language, label)) for s, label in STATUS_LABELS.items()],
            "methods": sorted(CATALOGUE.payment_methods),
            "next_query": _query(search, app.id, cursor=page.next_cursor)
            if app and page and page.next_cursor
            else None,
            "first_query": _query(search, app.id) if app else "",
            "request_cursor": request.query_params.get("cursor"),
            "csv_query": _query(search, app.id) if app else "",
            "env_query": {env: urlencode({"app": app.id, "env": env}) for env in ("sandbox", "live")} if app else {},
        }
    )
    return _render(request, "payments.html", context, status_code=422 if errors else 200)


async def payments_csv(request: Request) -> Response:
    session = await _session(request)
    if session is None:
        return _to_login()
    try:
        search = parse_search({k: request.query_params.get(k, "") for k in SEARCH_FIELDS})
    except ValidationFailed:
        return _error(request, session, 422, N_("The search is not valid."))
    app_id = request.query_params.get("app", "")
    if app_id not in session.app_ids:
        return _error(request, session, 404, N_("Not found."))
    uow = _gateway(request).uow()

    async def rows() -> AsyncIterator[str]:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["id", "created_at", "status", "amount", "currency", "method", "customer_email",
                         "description", "metadata"])  # fmt: skip
        yield out.getvalue()
        async for lines in service.export_payments(uow, session, app_id, search):
            out.seek(0)
            out.truncate()
            for line in lines:
                metadata = orjson.dumps(line.metadata).decode()
                cells = (line.id, line.created_at.isoformat(), line.status, line.amount, line.currency, line.method,
                         line.customer_email, line.description, metadata)  # fmt: skip
                writer.writerow([csv_cell(v) for v in cells])
            yield out.getvalue()

    filename = f"payments-{search.environment}.csv"
    return StreamingResponse(rows(), media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store",
    })  # fmt: skip


def _payment_id(request: Request) -> str:
    value: str = request.path_params["payment_id"]
    if not is_identifier(value):
        raise NotFound(service.NOT_FOUND)
    return value


async def payment_page(request: Request) -> Response:
    if not is_identifier(request.path_params["payment_id"]):
        return _error(request, None, 404, N_("This payment was not found."))
    session = await _session(request)
    if session is None:
        return _to_login()
    try:
        story = await service.payment_story(_gateway(request).uow(), session, _payment_id(request))
    except NotFound:
        return _error(request, session, 404, N_("This payment was not found."))
    context = await _context(request, session)
    context["app"] = story.app
    notice = NOTICES.get(request.query_params.get("notice", ""))
    context.update(
        {
            "story": story,
            "payment": story.payment,
            "notice": translate(_language(request), notice) if notice else None,
            "may_resend": may(session.role, Action.RESEND_WEBHOOK),
            "may_refund": may(session.role, Action.REFUND) and story.refundable > 0,
            "may_cancel": may(session.role, Action.CANCEL) and not story.is_final,
            "may_process": may(session.role, Action.MARK_PROCESSED)
            and story.payment.status == PaymentStatus.SUCCESS
            and story.processed_at is None,
        }
    )
    return _render(request, "payment.html", context)


def _back(payment_id: str, notice: str) -> Response:
    return RedirectResponse(f"/dashboard/payments/{payment_id}?notice={notice}", status_code=303)


async def _act(request: Request, action: str) -> Response:
    if not is_identifier(request.path_params["payment_id"]):
        return _error(request, None, 404, N_("This payment was not found."))
    posted = await _posted(request)
    if isinstance(posted, Response):
        return posted
    session, form = posted
    gateway = _gateway(request)
    try:
        payment_id = _payment_id(request)
        if action == "resend":
            await service.resend_webhook(gateway.uow(), session, payment_id, form.get("event_id", ""))
            return _back(payment_id, "resent")
        if action == "cancel":
            await service.cancel(gateway.uow(), session, payment_id)
            return _back(payment_id, "cancelled")
        if action == "process":
            await service.mark_processed(gateway.uow(), session, payment_id)
            return _back(payment_id, "processed")
        await service.refund(gateway.uow(), gateway.runtime.connectors, session, payment_id, form.get("amount", ""),
                             form.get("reason", ""), gateway.settings.internal_url)  # fmt: skip
        return _back(payment_id, "refunded")
    except Forbidden:
        return _error(request, session, 403, N_("Your role does not allow this."))
    except NotFound:
        return _error(request, session, 404, N_("This payment was not found."))
    except TransitionRefused:
        return _back(request.path_params["payment_id"], "changed")
    except ProcessRefused:
        return _error(request, session, 422, N_("Only a successful payment can be marked processed."))
    except DomainError as exc:  # a refund the rules refuse: its message names why (the API's own words)
        return _error(request, session, exc.status if exc.status < 500 else 422, exc.message)


async def resend(request: Request) -> Response:
    return await _act(request, "resend")


async def refund(request: Request) -> Response:
    return await _act(request, "refund")


async def cancel(request: Request) -> Response:
    return await _act(request, "cancel")


async def process(request: Request) -> Response:
    return await _act(request, "process")


async def audit_page(request: Request) -> Response:
    session = await _session(request)
    if session is None:
        return _to_login()
    context = await _context(request, session)
    context["entries"] = await audit_service.recent_entries(_gateway(request).uow(), session)
    return _render(request, "audit.html", context)


_GZIP = [Middleware(GZipMiddleware, minimum_size=500)]

routes = [
    Route("/dashboard", home, methods=["GET"]),
    Route("/dashboard/login", login_page, methods=["GET"]),
    Route("/dashboard/login", login, methods=["POST"]),
    Route("/dashboard/logout", logout, methods=["POST"]),
    Route("/dashboard/payments", payments_page, methods=["GET"], middleware=_GZIP),
    Route("/dashboard/payments.csv", payments_csv, methods=["GET"]),
    Route("/dashboard/payments/{payment_id}", payment_page, methods=["GET"], middleware=_GZIP),
    Route("/dashboard/payments/{payment_id}/resend", resend, methods=["POST"]),
    Route("/dashboard/payments/{payment_id}/refund", refund, methods=["POST"]),
    Route("/dashboard/payments/{payment_id}/cancel", cancel, methods=["POST"]),
    Route("/dashboard/payments/{payment_id}/process", process, methods=["POST"]),
    Route("/dashboard/audit", audit_page, methods=["GET"], middleware=_GZIP),
    Mount(
        "/dashboard-static",
        app=StaticFiles(packages=[("cauri.dashboard", "static")]),
        name="dashboard-static",
        middleware=_GZIP,
    ),
]
