"""Dashboard users: their roles, what each role may do, and the rules a new user's email and password keep."""

from __future__ import annotations

from enum import StrEnum

from cauri.domain.emails import InvalidEmail, normalize_email
from cauri.domain.errors import DomainError, FieldErrors, ValidationFailed
from cauri.domain.text import has_control_characters

PASSWORD_MIN = 12
#: argon2 hashes any length, but nobody types more; a longer one is refused before it costs a hash.
PASSWORD_MAX = 1024


class Role(StrEnum):
    OWNER = "owner"  # everything, money included
    DEVELOPER = "developer"  # reads, and the integration's work: keys, webhook endpoints, resending webhooks
    VIEWER = "viewer"  # reads only


class Action(StrEnum):
    RESEND_WEBHOOK = "resend_webhook"
    REFUND = "refund"
    CANCEL = "cancel"
    MANAGE_KEYS = "manage_keys"  # create, rotate, revoke API keys
    MANAGE_WEBHOOKS = "manage_webhooks"  # add, disable, test webhook endpoints
    EDIT_EMAILS = "edit_emails"  # the app's receipts and notices
    MARK_PROCESSED = "mark_processed"  # a paid payment's order was delivered (the API's ``process``)
    MANAGE_PROVIDERS = "manage_providers"  # add and remove the app's accounts at providers


#: Who may do what beyond reading (every role reads the apps it belongs to).
ALLOWED: dict[Action, frozenset[Role]] = {
    Action.RESEND_WEBHOOK: frozenset({Role.OWNER, Role.DEVELOPER}),
    Action.REFUND: frozenset({Role.OWNER}),
    Action.CANCEL: frozenset({Role.OWNER}),
    Action.MANAGE_KEYS: frozenset({Role.OWNER, Role.DEVELOPER}),
    Action.MANAGE_WEBHOOKS: frozenset({Role.OWNER, Role.DEVELOPER}),
    Action.EDIT_EMAILS: frozenset({Role.OWNER}),
    # Marking processed is the integration's work, as resending a webhook is (a developer's API key does it
    # too); provider accounts carry credentials and decide where the money goes: owners only.
    Action.MARK_PROCESSED: frozenset({Role.OWNER, Role.DEVELOPER}),
    Action.MANAGE_PROVIDERS: frozenset({Role.OWNER}),
}


def may(role: str, action: Action) -> bool:
    return role in ALLOWED[action]


class Forbidden(DomainError):
    """The user's role does not allow the action."""

    status = 403


ROLE_REFUSED = "The role must be one of: owner, developer, viewer."


def check_new_user(email: str, password: str, role: str) -> tuple[str, Role]:
    """The normalized (lower-case) email and the role, or ``ValidationFailed`` naming the field."""
    errors = FieldErrors()
    normalized = ""
    try:
        normalized = normalize_email(email.strip()).lower()
    except InvalidEmail:
        errors.add("email", "The email field must be a valid email address.")
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        errors.add("password", f"The password must be {PASSWORD_MIN} to {PASSWORD_MAX} characters long.")
    elif has_control_characters(password):
        errors.add("password", "The password must not contain control characters.")
    if role not in Role.__members__.values():
        errors.add("role", ROLE_REFUSED)
    if errors:
        raise ValidationFailed(errors)
    return normalized, Role(role)


def check_role(role: str) -> Role:
    """``role`` as a ``Role``, or ``ValidationFailed`` on ``role``."""
    if role not in Role.__members__.values():
        raise ValidationFailed(FieldErrors({"role": [ROLE_REFUSED]}))
    return Role(role)
