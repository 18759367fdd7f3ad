"""The connector interface: what a payment provider's adapter does, and nothing else.

A real provider is one new module with a ``ProviderConnector`` subclass, listed in ``providers.py``. The gateway
owns every state change: a connector reports outcomes, and the one state machine applies them (at most one
success per payment, whatever the connector or the order in which its notifications arrive).

The life of an attempt, as a connector sees it:

1. ``start`` is called once the customer chose a method and gave what it needs. It asks the provider to
   collect the money and returns the ``NextAction`` the checkout page shows (confirm on the phone,
   authenticate the card, follow instructions).
2. The provider's notification arrives at ``POST /connectors/{name}/callback``; ``prepare_callback`` may
   fetch (asynchronously) what checking it needs, then ``parse_callback``, which does no I/O, checks that it
   is authentic and turns it into an ``Outcome`` (a success says what was collected, compared with the
   payment before it is applied). ``parse_notification``, for providers that send payout and refund events to
   that one URL too, may return their outcomes instead.
3. If no notification comes, the reconciliation job calls ``fetch_status`` for attempts pending too long.

Payouts take the same three steps: ``payout`` hands one to the provider and returns its reference, the
provider's notification arrives at ``POST /connectors/{name}/payouts/callback`` (``parse_payout_callback``),
and ``fetch_payout_status`` answers the reconciliation job. A connector that does not pay out leaves them
unimplemented. Refunds too: ``refund`` hands one to the provider that took the payment, the notification
arrives at ``POST /connectors/{name}/refunds/callback`` (``parse_refund_callback``), and
``fetch_refund_status`` answers the reconciliation job.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from cauri.domain.attempts import AttemptStatus
from cauri.domain.methods import PaymentMethod, PayoutMethod
from cauri.domain.payouts import PayoutStatus
from cauri.domain.refunds import RefundStatus


class ActionKind(StrEnum):
    CONFIRM_ON_PHONE = "confirm_on_phone"  # mobile money: approve the push on the handset
    AUTHENTICATE = "authenticate"  # cards: a 3-D Secure step at the issuer (or the sandbox's stand-in)
    INSTRUCTIONS = "instructions"  # bank transfer, USSD, QR: the customer acts outside the page
    #: The processor's own hosted page (live cards: Cauri never sees the number): ``data["url"]``, https only,
    #: and the processor sends the customer back to the checkout page, which then waits for the outcome.
    REDIRECT = "redirect"


@dataclass(frozen=True, slots=True)
class NextAction:
    kind: ActionKind
    #: What the page shows: e.g. ``reference``, ``ussd_code``, ``account_number``, ``qr_payload``.
    data: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AttemptRequest:
    attempt_id: str
    payment_id: str
    method: PaymentMethod
    amount: int
    currency: str
    phone: str | None
    #: Card number and expiry live only in memory, for the call to the processor; they are never stored.
    card_number: str | None = None
    card_expiry: str | None = None
    #: Where a processor's hosted page (``ActionKind.REDIRECT``) sends the customer back: the payment's checkout
    #: page, at the gateway's public url.
    return_url: str | None = None
    #: The payment's customer's email, for providers that require one (receipts, fraud checks).
    customer_email: str | None = None


@dataclass(frozen=True, slots=True)
class Started:
    reference: str  # the provider's id for this attempt
    action: NextAction


@dataclass(frozen=True, slots=True)
class Outcome:
    attempt_id: str
    status: AttemptStatus  # PENDING: nothing final yet
    failure_code: str | None = None
    failure_message: str | None = None
    #: What the provider says it collected, in Cauri's units (the currency's main unit), when it says so: a
    #: success whose amount or currency differs from the payment's is not applied as a success (the gateway
    #: fails the attempt, ``amount_mismatch``, and logs it for an operator). A connector that reads an amount it
    #: cannot express exactly in Cauri's units reports the attempt failed with that code itself.
    amount: int | None = None
    currency: str | None = None
    #: The provider's id of the transaction, when the outcome names it: an attempt whose start was ambiguous (the
    #: answer never came back) learns it here, so that verify's ``capture.gateway`` names it once it is settled.
    reference: str | None = None


@dataclass(frozen=True, slots=True)
class PayoutRequest:
    payout_id: str
    method: PayoutMethod
    amount: int
    currency: str
    #: The method's fields: ``msisdn`` (international digits) or ``account_number``.
    recipient: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class PayoutOutcome:
    payout_id: str
    status: PayoutStatus  # PENDING: nothing final yet
    failure_code: str | None = None
    failure_message: str | None = None


@dataclass(frozen=True, slots=True)
class RefundRequest:
    refund_id: str
    amount: int
    currency: str
    #: The attempt that paid (its ``provider_reference`` names the provider's transaction) and its payment.
    attempt: Mapping[Any, Any]
    payment: Mapping[Any, Any]


@dataclass(frozen=True, slots=True)
class RefundOutcome:
    refund_id: str
    status: RefundStatus  # PENDING: nothing final yet
    failure_code: str | None = None
    failure_message: str | None = None


#: What a notification at the payment route may carry (``Connector.parse_notification``).
Notification = Outcome | PayoutOutcome | RefundOutcome


class ProviderUnavailable(Exception):
    """Raised by ``start`` when the provider could not be reached at all (connection refused, DNS failure, an
    explicit "unavailable" before anything was accepted): nothing can have been collected, so routing moves
    the attempt to the merchant's next account, or it fails and the customer may try again. Any other error
    leaves the attempt pending, since the provider may have received it: the reconciliation job asks about it
    later."""


class RequestRefused(ProviderUnavailable):
    """The provider answered, and refused this one request (a number it does not know, a method the account does
    not have, a malformed field): nothing was taken, so routing still tries the next account, but the provider
    is up, so the refusal does not count toward the account's circuit breaker. Three customers mistyping their
    number must not take a healthy account out of routing. Refused credentials are not this: they are the
    account's fault, and count."""


class CallbackRejected(Exception):
    """The notification is not authentic or not understood: answer 400 and change nothing."""


class Connector(ABC):
    #: The name in the callback route, ``/connectors/{name}/callback``.
    name: str

    @abstractmethod
    async def start(self, request: AttemptRequest, callback_url: str) -> Started: ...

    async def prepare_callback(self, headers: Mapping[str, str]) -> None:
        """Called before any ``parse_…callback``: the place to fetch, without blocking the event loop, what
        checking the notification needs (a provider's public key). Parsing itself does no I/O."""
        return None

    @abstractmethod
    def parse_callback(self, body: bytes, headers: Mapping[str, str]) -> Outcome: ...

    @abstractmethod
    async def fetch_status(self, attempt: Mapping[Any, Any]) -> Outcome: ...

    def parse_notification(self, body: bytes, headers: Mapping[str, str]) -> Notification:
        """A notification arriving at ``/connectors/{name}/callback``: a payment's (``parse_callback``) unless the
        connector says otherwise. A provider that posts every kind of event to the one URL set in its dashboard
        (charges, transfers, refunds) overrides it to return a payout's or a refund's outcome too, so that one
        URL is enough; the gateway applies each to what it names."""
        return self.parse_callback(body, headers)

    async def confirm_authentication(self, attempt: Mapping[Any, Any], approved: bool, callback_url: str) -> None:
        """Cards: the customer finished the authentication step (only connectors that host it need this)."""
        raise NotImplementedError

    async def refund(self, request: RefundRequest, callback_url: str) -> str:
        """Hand a refund of the payment this connector took to the provider; returns the provider's reference.
        The outcome comes later, as a notification to ``callback_url``. Raise ``ProviderUnavailable`` when
        nothing can have been sent."""
        raise NotImplementedError

    def parse_refund_callback(self, body: bytes, headers: Mapping[str, str]) -> RefundOutcome:
        """Authenticate and read a refund notification (``CallbackRejected`` otherwise)."""
        raise NotImplementedError

    async def fetch_refund_status(self, refund: Mapping[Any, Any]) -> RefundOutcome:
        """What the provider knows of a refund it went silent about (the reconciliation job asks): ``refund`` is
        the stored refund, with its payment under ``payment``."""
        raise NotImplementedError

    async def payout(self, request: PayoutRequest, callback_url: str) -> str:
        """Hand a payout to the provider; returns the provider's reference. The outcome comes later, as a
        notification to ``callback_url``. Raise ``ProviderUnavailable`` when nothing can have been sent."""
        raise NotImplementedError

    def parse_payout_callback(self, body: bytes, headers: Mapping[str, str]) -> PayoutOutcome:
        """Authenticate and read a payout notification (``CallbackRejected`` otherwise)."""
        raise NotImplementedError

    async def fetch_payout_status(self, payout: Mapping[Any, Any]) -> PayoutOutcome:
        """What the provider knows of a payout it went silent about (the reconciliation job asks)."""
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class ProviderAccount:
    """One merchant's account at a real provider, as its connector needs it. The store keeps the credentials
    sealed; the connector gets them opened, in memory only, and must never log them."""

    #: Cauri's id for the account (``pa_…``); it is also the connector's ``name``, so the provider's
    #: notifications for this account arrive at ``/connectors/{id}/callback`` and are checked with its secrets.
    id: str
    provider: str  # ``pawapay``, ``fedapay``, ``paystack``…
    credentials: Mapping[str, str] = field(repr=False)  # kept out of reprs, tracebacks and test failures
    #: The provider's own sandbox (its test host and keys) rather than its live service.
    sandbox: bool
    #: The provider's API root when it is not the documented one (a simulator in tests, a regional host).
    base_url: str | None = None


class CredentialsRefused(Exception):
    """The provider answered, and refused the account's credentials (``cauri doctor`` reports it)."""


class ProviderConnector(Connector):
    """A connector to a real provider, one instance per merchant account. A provider module defines one
    subclass and lists it in ``PROVIDERS`` (``connectors/providers.py``); routing picks among the accounts."""

    #: The provider's name in ``cauri providers add APP PROVIDER``.
    provider: str
    #: The credential names an operator gives (read from standard input or the environment, never argv).
    credential_fields: tuple[str, ...]
    #: Credentials an operator may give but need not (never asked for).
    optional_credentials: tuple[str, ...] = ()
    #: The catalogue's payment method codes the provider can collect with (an account may serve fewer).
    payment_methods: frozenset[str]
    #: The catalogue's payout method codes the provider can pay out to.
    payout_methods: frozenset[str] = frozenset()

    def __init__(self, account: ProviderAccount, http: Any = None) -> None:
        """``http`` is an ``httpx.AsyncClient`` to share (timeouts set); a connector makes its own otherwise."""
        self.account = account
        self.name = account.id

    @abstractmethod
    async def check_credentials(self) -> str:
        """Ask the provider something harmless with the credentials; return what it said in one line.
        Raise ``CredentialsRefused`` when it refuses them, ``ProviderUnavailable`` when it cannot be reached."""
