"""Merchants' accounts at real providers: what an account is, the rules a new one must meet, the order routing
tries them in, and the account as the API and the CLI show it (never its credentials).

Routing order is the account's ``priority`` (lower first; ties by creation, older first): for each method, the
app's enabled accounts of the payment's environment that serve it, in that order.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import ConfigDict, Field, with_config
from typing_extensions import TypedDict

from cauri.domain.errors import FieldErrors, ValidationFailed
from cauri.domain.payments import Environment
from cauri.domain.text import has_control_characters

#: The providers' own spelling, for ``capture.gateway.name``; a provider not listed shows its code.
PROVIDER_NAMES = {"pawapay": "pawaPay", "paystack": "Paystack", "fedapay": "FedaPay"}
DEFAULT_PRIORITY = 100
MAX_PRIORITY = 1000
MAX_LABEL = 100
MAX_CREDENTIAL = 4096
MAX_ACCOUNTS = 20  # per app and environment
ACCOUNT_NOT_FOUND = "Provider account not found."


def provider_name(provider: str) -> str:
    return PROVIDER_NAMES.get(provider, provider)


@dataclass(frozen=True, slots=True)
class ProviderSpec:
    """What a provider's connector declares (``connectors.base.ProviderConnector``), as the rules need it."""

    name: str
    credential_fields: tuple[str, ...]
    payment_methods: frozenset[str]
    #: Credentials an account may be given but need not be (e.g. a second webhook's secret).
    optional_credentials: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class NewAccount:
    provider: str
    label: str
    credentials: dict[str, str]
    sandbox: bool
    methods: tuple[str, ...]
    priority: int
    base_url: str | None


def check_new_account(body: Mapping[Any, Any], providers: Mapping[str, ProviderSpec], environment: str) -> NewAccount:
    """Validate a new account (``ValidationFailed`` naming each field). A credential's value is never repeated in
    a message. In the sandbox environment an account must use its provider's sandbox: sandbox keys never move
    real money."""
    errors = FieldErrors()
    spec: ProviderSpec | None = None
    provider = body.get("provider")
    if not isinstance(provider, str) or provider not in providers:
        known = ", ".join(sorted(providers)) or "none is installed"
        errors.add("provider", f"The provider field must be one of: {known}.")
    else:
        spec = providers[provider]
    label = _label(body.get("label"), errors)
    sandbox = body.get("sandbox", environment == Environment.SANDBOX.value)
    if not isinstance(sandbox, bool):
        errors.add("sandbox", "The sandbox field must be true or false.")
        sandbox = True
    elif environment == Environment.SANDBOX.value and not sandbox:
        errors.add("sandbox", "Accounts of the sandbox environment must use the provider's sandbox.")
    credentials = _credentials(body.get("credentials"), spec, errors)
    methods = _methods(body.get("methods"), spec, errors)
    priority = body.get("priority", DEFAULT_PRIORITY)
    if isinstance(priority, bool) or not isinstance(priority, int) or not 0 <= priority <= MAX_PRIORITY:
        errors.add("priority", f"The priority field must be an integer from 0 to {MAX_PRIORITY}.")
        priority = DEFAULT_PRIORITY
    base_url = body.get("base_url")
    if base_url is not None and (problem := base_url_problem(base_url)) is not None:
        errors.add("base_url", f"The base url field {problem}.")
    if errors or spec is None:
        raise ValidationFailed(errors)
    return NewAccount(spec.name, label, credentials, sandbox, methods, priority, base_url)


def _label(value: object, errors: FieldErrors) -> str:
    if not isinstance(value, str) or not value.strip():
        errors.add("label", "The label field is required.")
        return ""
    value = value.strip()
    if len(value) > MAX_LABEL:
        errors.add("label", f"The label field must not be greater than {MAX_LABEL} characters.")
    elif has_control_characters(value):
        errors.add("label", "The label field must not contain control characters.")
    return value


def _credentials(value: object, spec: ProviderSpec | None, errors: FieldErrors) -> dict[str, str]:
    if not isinstance(value, dict):
        errors.add("credentials", "The credentials field must be an object.")
        return {}
    if spec is None:
        return {}
    found: dict[str, str] = {}
    for name in spec.credential_fields + spec.optional_credentials:
        secret = value.get(name)
        if secret is None and name in spec.optional_credentials:
            continue
        if not isinstance(secret, str) or not secret.strip():
            errors.add(f"credentials.{name}", f"The credentials.{name} field is required.")
        elif len(secret) > MAX_CREDENTIAL or has_control_characters(secret):
            errors.add(f"credentials.{name}", f"The credentials.{name} field is not a valid credential.")
        else:
            found[name] = secret.strip()
    known = spec.credential_fields + spec.optional_credentials
    if any(name not in known for name in value):
        # The unknown names are not echoed: they may be anything, a secret pasted in the wrong place included.
        errors.add("credentials", f"The credentials field takes only: {', '.join(known)}.")
    return found


def _methods(value: object, spec: ProviderSpec | None, errors: FieldErrors) -> tuple[str, ...]:
    if spec is None:
        return ()
    if value is None:
        return tuple(sorted(spec.payment_methods))
    if not isinstance(value, list) or not value or not all(isinstance(code, str) for code in value):
        errors.add("methods", "The methods field must be a non-empty list of payment method codes.")
        return ()
    if any(code not in spec.payment_methods for code in value):
        errors.add("methods", f"The methods field must list methods {spec.name} serves.")
        return ()
    return tuple(dict.fromkeys(value))


def base_url_problem(url: object) -> str | None:
    """Why ``url`` cannot be an account's API root, or None: https, or plain http to this machine only (a
    simulator), since credentials travel to it."""
    if not isinstance(url, str) or len(url) > 2048 or has_control_characters(url) or any(c.isspace() for c in url):
        return "must be a URL"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a port that is no port
    except ValueError:
        return "must be a URL"
    if not parts.hostname or parts.username or parts.password or parts.query or parts.fragment:
        return "must be a URL with a host, and no credentials, query or fragment"
    if parts.scheme == "https":
        return None
    if parts.scheme == "http" and _loopback(parts.hostname):
        return None
    return "must start with https:// (http:// only to this machine)"


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def routing_order(accounts: Sequence[Mapping[Any, Any]], method: str) -> list[Mapping[Any, Any]]:
    """The enabled accounts serving ``method``, in the order routing tries them."""
    serving = [a for a in accounts if a["is_enabled"] and method in (a["methods"] or ())]
    return sorted(serving, key=lambda a: (a["priority"], a["created_at"], a["id"]))


def payout_order(
    accounts: Sequence[Mapping[Any, Any]], payout_methods: Mapping[str, frozenset[str]], method: str
) -> list[Mapping[Any, Any]]:
    """The enabled accounts that pay out with ``method``, in routing order. An account pays out with every
    payout method its provider's connector has (``payout_methods``, by provider): its ``methods`` list the
    payment methods it collects, so narrowing collections never silently stops payouts."""
    serving = [a for a in accounts if a["is_enabled"] and method in payout_methods.get(a["provider"], ())]
    return sorted(serving, key=lambda a: (a["priority"], a["created_at"], a["id"]))


def served_methods(accounts: Sequence[Mapping[Any, Any]]) -> frozenset[str]:
    """Every method some enabled account serves."""
    return frozenset(code for a in accounts if a["is_enabled"] for code in a["methods"] or ())


Stamp = Annotated[str, Field(json_schema_extra={"format": "date-time"}, examples=["2024-01-31T14:46:13.000000Z"])]


@with_config(ConfigDict(use_attribute_docstrings=True))
class ProviderAccountSummary(TypedDict):
    """A merchant's account at a provider (our extension). Its credentials are never shown again."""

    id: Annotated[str, Field(examples=["pa_0m8xq2v7c1kd4s9a"])]
    provider: str
    """The provider's code (``pawapay``, ``paystack``, ``fedapay``…)."""
    label: str
    environment: Environment
    sandbox: bool
    """Whether the account uses the provider's own sandbox (its test host and keys)."""
    methods: list[str]
    """The payment methods routed to this account."""
    priority: int
    """Routing tries the accounts serving a method by priority, lower first (then oldest first)."""
    base_url: str | None
    """The provider's API root when it is not the documented one."""
    created_at: Stamp
    updated_at: Stamp


def account_summary(row: Mapping[Any, Any], iso: Callable[[datetime], str | None]) -> ProviderAccountSummary:
    return {
        "id": row["id"],
        "provider": row["provider"],
        "label": row["label"],
        "environment": row["environment"],
        "sandbox": row["sandbox"],
        "methods": list(row["methods"] or ()),
        "priority": row["priority"],
        "base_url": row["base_url"],
        "created_at": iso(row["created_at"]) or "",
        "updated_at": iso(row["updated_at"]) or "",
    }
