"""``/dashboard/keys``, ``/dashboard/webhooks``, ``/dashboard/emails``, ``/dashboard/providers``: the developers'
pages.

A new key's or endpoint's secret is rendered once, in the answer to the form that created it (never cached,
never in a URL); every later view shows its prefix alone. A provider account's credentials are typed into its
form and sealed by the service: no page ever shows them, not even the answer to a refused form. Other actions
redirect back with a notice code.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from cauri.api.identifiers import is_identifier
from cauri.dashboard.routes import (
    _GZIP,
    _context,
    _error,
    _gateway,
    _language,
    _posted,
    _render,
    _session,
    _to_login,
)
from cauri.domain.clock import utcnow
from cauri.domain.developers import DEFAULT_GRACE_HOURS, GRACE_HOURS, NOTICE_LANGUAGES
from cauri.domain.errors import DomainError, NotFound, ValidationFailed
from cauri.domain.messages import N_
from cauri.domain.providers import DEFAULT_PRIORITY, MAX_LABEL, MAX_PRIORITY, provider_name
from cauri.domain.users import Action, Forbidden, may
from cauri.domain.webhooks import WEBHOOK_EVENTS
from cauri.i18n import translate
from cauri.services import developers as service
from cauri.services.users import Session

NOTICES = {
    "revoked": N_("The key was revoked: it no longer works."),
    "disabled": N_("The endpoint was disabled: nothing more is sent to it."),
    "tested": N_("A test event is on its way to the endpoint."),
    "saved": N_("The email settings were saved."),
    "provider_added": N_("The provider account was added: routing uses it from now on."),
    "provider_removed": N_("The provider account was removed: routing no longer uses it."),
}
KEY_STATES = {"active": N_("active"), "grace": N_("in its grace period"), "revoked": N_("revoked")}
#: The checkboxes of the endpoint form are named ``event:<type>`` (the form is read as one value per name).
EVENT_FIELD = "event:"
#: A provider account's form: its credentials as ``credential:<name>``, its methods as ``method:<code>``.
CREDENTIAL_FIELD = "credential:"
METHOD_FIELD = "method:"


def _environment(request: Request, form: dict[str, str] | None = None) -> str:
    raw = (form or {}).get("env") or request.query_params.get("env", "")
    return "live" if raw == "live" else "sandbox"


def _back(path: str, app_id: str, notice: str, env: str | None = None) -> Response:
    query = {"app": app_id, **({"env": env} if env else {}), "notice": notice}
    return RedirectResponse(f"{path}?{urlencode(query)}", status_code=303)


async def _page_context(request: Request, session: Session, app_id: str | None = None) -> dict[str, Any]:
    context = await _context(request, session)
    if app_id is not None:
        context["app"] = next((a for a in context["apps"] if a.id == app_id), context["app"])
    notice = NOTICES.get(request.query_params.get("notice", ""))
    context["notice"] = translate(_language(request), notice) if notice else None
    return context


def _env_query(app: Any) -> dict[str, str]:
    """The query of the sandbox/live switch's two links on a page of ``app`` (none without an app)."""
    return {e: urlencode({"app": app.id, "env": e}) for e in ("sandbox", "live")} if app else {}


def _field_errors(request: Request, exc: ValidationFailed) -> list[str]:
    language = _language(request)
    by_field = exc.errors.by_field if exc.errors else {}
    return [f"{name}: {translate(language, m)}" for name, messages in by_field.items() for m in messages]


# Keys.


async def _keys_page(request: Request, session: Session, app_id: str | None, status_code: int = 200,
                     **extra: Any) -> Response:  # fmt: skip
    context = await _page_context(request, session, app_id)
    app = context["app"]
    context.update(
        {
            "keys": await service.keys(_gateway(request).uow(), session, app.id) if app else [],
            "now": utcnow(),
            "state_label": lambda key: translate(_language(request), KEY_STATES[key.state(context["now"]).value]),
            "may_manage": may(session.role, Action.MANAGE_KEYS),
            "grace_hours": GRACE_HOURS,
            "default_grace": DEFAULT_GRACE_HOURS,
            "new_key": None,
            "errors": [],
            **extra,
        }
    )
    return _render(request, "keys.html", context, status_code=status_code)


async def keys_page(request: Request) -> Response:
    session = await _session(request)
    if session is None:
        return _to_login()
    return await _keys_page(request, session, request.query_params.get("app"))


async def _key_action(request: Request, action: str) -> Response:
    key_id = request.path_params.get("key_id", "")
    if key_id and not is_identifier(key_id):
        return _error(request, None, 404, N_("This key was not found."))
    posted = await _posted(request)
    if isinstance(posted, Response):
        return posted
    session, form = posted
    app_id = form.get("app", "")
    uow = _gateway(request).uow()
    try:
        if action == "create":
            key = await service.create_key(uow, session, app_id, _environment(request, form))
        elif action == "rotate":
            key = await service.rotate_key(uow, session, app_id, key_id, form.get("grace", ""))
            _gateway(request).keys.forget(key_id)
        else:
            await service.revoke_key(uow, session, app_id, key_id)
            _gateway(request).keys.forget(key_id)
            return _back("/dashboard/keys", app_id, "revoked")
    except Forbidden:
        return _error(request, session, 403, N_("Your role does not allow this."))
    except NotFound:
        return _error(request, session, 404, N_("This key was not found."))
    except ValidationFailed as exc:
        return await _keys_page(request, session, app_id, 422, errors=_field_errors(request, exc))
    # The secret, this once: the page that answers the form shows it, and nothing keeps it.
    return await _keys_page(request, session, app_id, new_key=key)


async def create_key(request: Request) -> Response:
    return await _key_action(request, "create")


async def rotate_key(request: Request) -> Response:
    return await _key_action(request, "rotate")


async def revoke_key(request: Request) -> Response:
    return await _key_action(request, "revoke")


# Webhook endpoints.


async def _webhooks_page(request: Request, session: Session, app_id: str | None, env: str, status_code: int = 200,
                         **extra: Any) -> Response:  # fmt: skip
    context = await _page_context(request, session, app_id)
    app = context["app"]
    context.update(
        {
            "env": env,
            "endpoints": await service.endpoints(_gateway(request).uow(), session, app.id, env) if app else [],
            "may_manage": may(session.role, Action.MANAGE_WEBHOOKS),
            "event_types": WEBHOOK_EVENTS,
            "event_field": EVENT_FIELD,
            "new_secret": None,
            "new_endpoint": None,
            "errors": [],
            "form": {},
            "env_query": _env_query(app),
            **extra,
        }
    )
    return _render(request, "webhooks.html", context, status_code=status_code)


async def webhooks_page(request: Request) -> Response:
    session = await _session(request)
    if session is None:
        return _to_login()
    return await _webhooks_page(request, session, request.query_params.get("app"), _environment(request))


async def _endpoint_action(request: Request, action: str) -> Response:
    endpoint_id = request.path_params.get("endpoint_id", "")
    if endpoint_id and not is_identifier(endpoint_id):
        return _error(request, None, 404, N_("This endpoint was not found."))
    posted = await _posted(request)
    if isinstance(posted, Response):
        return posted
    session, form = posted
    app_id, env = form.get("app", ""), _environment(request, form)
    gateway = _gateway(request)
    try:
        if action == "add":
            events = [name[len(EVENT_FIELD) :] for name in form if name.startswith(EVENT_FIELD)]
            endpoint, secret = await service.add_endpoint(gateway.uow(), gateway.settings, session, app_id, env,
                                                          form.get("url", ""), events)  # fmt: skip
            return await _webhooks_page(request, session, app_id, env, new_secret=secret, new_endpoint=endpoint)
        if action == "disable":
            await service.disable_endpoint(gateway.uow(), session, app_id, env, endpoint_id)
            return _back("/dashboard/webhooks", app_id, "disabled", env)
        await service.send_test_event(gateway.uow(), session, app_id, env, endpoint_id)
        return _back("/dashboard/webhooks", app_id, "tested", env)
    except Forbidden:
        return _error(request, session, 403, N_("Your role does not allow this."))
    except NotFound:
        return _error(request, session, 404, N_("This endpoint was not found."))
    except ValidationFailed as exc:
        return await _webhooks_page(request, session, app_id, env, 422, errors=_field_errors(request, exc), form=form)


async def add_endpoint(request: Request) -> Response:
    return await _endpoint_action(request, "add")


async def disable_endpoint(request: Request) -> Response:
    return await _endpoint_action(request, "disable")


async def test_endpoint(request: Request) -> Response:
    return await _endpoint_action(request, "test")


# Email settings.


async def _emails_page(request: Request, session: Session, app_id: str | None, status_code: int = 200,
                       **extra: Any) -> Response:  # fmt: skip
    context = await _page_context(request, session, app_id)
    context.update(
        {
            "may_edit": may(session.role, Action.EDIT_EMAILS),
            "languages": NOTICE_LANGUAGES,
            "default_language": _gateway(request).settings.merchant_language,
            "errors": [],
            **extra,
        }
    )
    return _render(request, "emails.html", context, status_code=status_code)


async def emails_page(request: Request) -> Response:
    session = await _session(request)
    if session is None:
        return _to_login()
    return await _emails_page(request, session, request.query_params.get("app"))


async def save_emails(request: Request) -> Response:
    posted = await _posted(request)
    if isinstance(posted, Response):
        return posted
    session, form = posted
    app_id = form.get("app", "")
    try:
        await service.update_emails(
            _gateway(request).uow(), session, app_id,
            notify_email=form.get("notify_email", ""), send_receipts=form.get("send_receipts") == "on",
            send_notices=form.get("send_notices") == "on", notify_failures=form.get("notify_failures") == "on",
            language=form.get("language", ""),
        )  # fmt: skip
    except Forbidden:
        return _error(request, session, 403, N_("Your role does not allow this."))
    except NotFound:
        return _error(request, session, 404, N_("Not found."))
    except ValidationFailed as exc:
        return await _emails_page(request, session, app_id, 422, errors=_field_errors(request, exc))
    return _back("/dashboard/emails", app_id, "saved")


# Provider accounts.


def _provider_forms() -> list[dict[str, Any]]:
    return [
        {"name": name, "title": provider_name(name), "credentials": spec.credential_fields,
         "optional": spec.optional_credentials, "methods": sorted(spec.payment_methods)}
        for name, spec in sorted(service.provider_kinds().items())
    ]  # fmt: skip


async def _providers_page(request: Request, session: Session, app_id: str | None, env: str, status_code: int = 200,
                          **extra: Any) -> Response:  # fmt: skip
    context = await _page_context(request, session, app_id)
    app = context["app"]
    context.update(
        {
            "env": env,
            "routing": await service.provider_routing(_gateway(request).uow(), session, app.id, env) if app else None,
            "may_manage": may(session.role, Action.MANAGE_PROVIDERS),
            "provider_name": provider_name,
            "provider_forms": _provider_forms(),
            "credential_field": CREDENTIAL_FIELD,
            "method_field": METHOD_FIELD,
            "default_priority": DEFAULT_PRIORITY,
            "max_priority": MAX_PRIORITY,
            "max_label": MAX_LABEL,
            "errors": [],
            "form": {},
            "env_query": _env_query(app),
            **extra,
        }
    )
    return _render(request, "providers.html", context, status_code=status_code)


async def providers_page(request: Request) -> Response:
    session = await _session(request)
    if session is None:
        return _to_login()
    return await _providers_page(request, session, request.query_params.get("app"), _environment(request))


def _account_body(form: dict[str, str], env: str) -> dict[str, Any]:
    """The form as ``POST /v1/providers`` takes its body: blank credentials are left out (an optional one is
    then not set; a required one is named missing), no method ticked means every method the provider serves."""
    body: dict[str, Any] = {
        "provider": form.get("provider", ""),
        "label": form.get("label", ""),
        "credentials": {name[len(CREDENTIAL_FIELD) :]: value for name, value in form.items()
                        if name.startswith(CREDENTIAL_FIELD) and value.strip()},
        "sandbox": env == "sandbox" or form.get("sandbox") == "on",
    }  # fmt: skip
    methods = [name[len(METHOD_FIELD) :] for name in form if name.startswith(METHOD_FIELD)]
    if methods:
        body["methods"] = methods
    priority = form.get("priority", "").strip()
    if priority:
        body["priority"] = (
            int(priority) if priority.isascii() and priority.isdigit() and len(priority) < 6 else priority
        )
    return body


async def _provider_action(request: Request, action: str) -> Response:
    account_id = request.path_params.get("account_id", "")
    if account_id and not is_identifier(account_id):
        return _error(request, None, 404, N_("This provider account was not found."))
    posted = await _posted(request)
    if isinstance(posted, Response):
        return posted
    session, form = posted
    app_id, env = form.get("app", ""), _environment(request, form)
    gateway = _gateway(request)
    try:
        if action == "add":
            await service.add_provider_account(gateway.uow(), gateway.settings, session, app_id, env,
                                               _account_body(form, env))  # fmt: skip
            return _back("/dashboard/providers", app_id, "provider_added", env)
        await service.remove_provider_account(gateway.uow(), session, app_id, env, account_id)
        return _back("/dashboard/providers", app_id, "provider_removed", env)
    except Forbidden:
        return _error(request, session, 403, N_("Your role does not allow this."))
    except NotFound:
        return _error(request, session, 404, N_("This provider account was not found."))
    except ValidationFailed as exc:
        # What was typed comes back but the credentials: those are typed again.
        kept = {k: v for k, v in form.items() if not k.startswith(CREDENTIAL_FIELD) and k != "csrf"}
        return await _providers_page(request, session, app_id, env, 422, errors=_field_errors(request, exc),
                                     form=kept)  # fmt: skip
    except DomainError as exc:  # the app has as many accounts as it may
        return await _providers_page(request, session, app_id, env, 422, errors=[translate(_language(request),
                                     exc.message)])  # fmt: skip


async def add_provider(request: Request) -> Response:
    return await _provider_action(request, "add")


async def remove_provider(request: Request) -> Response:
    return await _provider_action(request, "remove")


routes = [
    Route("/dashboard/keys", keys_page, methods=["GET"], middleware=_GZIP),
    Route("/dashboard/keys/create", create_key, methods=["POST"]),
    Route("/dashboard/keys/{key_id}/rotate", rotate_key, methods=["POST"]),
    Route("/dashboard/keys/{key_id}/revoke", revoke_key, methods=["POST"]),
    Route("/dashboard/webhooks", webhooks_page, methods=["GET"], middleware=_GZIP),
    Route("/dashboard/webhooks/add", add_endpoint, methods=["POST"]),
    Route("/dashboard/webhooks/{endpoint_id}/disable", disable_endpoint, methods=["POST"]),
    Route("/dashboard/webhooks/{endpoint_id}/test", test_endpoint, methods=["POST"]),
    Route("/dashboard/emails", emails_page, methods=["GET"], middleware=_GZIP),
    Route("/dashboard/emails", save_emails, methods=["POST"]),
    Route("/dashboard/providers", providers_page, methods=["GET"], middleware=_GZIP),
    Route("/dashboard/providers/add", add_provider, methods=["POST"]),
    Route("/dashboard/providers/{account_id}/remove", remove_provider, methods=["POST"]),
]
