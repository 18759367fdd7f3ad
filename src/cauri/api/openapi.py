"""The OpenAPI 3.1 description of the API as it really answers: envelope, fields, rules and errors.

Nothing here is a hand-written copy of a shape. Response schemas are generated from the typed objects of
``cauri.domain.representation`` and ``cauri.domain.payout_representation`` (the dicts the handlers really
return), the initialize requests from the limits ``cauri.domain.payment_request`` and
``cauri.domain.payout_request`` enforce; pydantic only writes the JSON Schema.
"""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any, Literal, NotRequired

from pydantic import ConfigDict, Field, TypeAdapter, with_config
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaMode
from pydantic_core import CoreSchema
from typing_extensions import TypedDict  # pydantic needs this TypedDict before Python 3.12

from cauri import __version__
from cauri.api.listing import EMAIL_MAX
from cauri.domain import ledger, payout_representation, providers, rates, representation
from cauri.domain.methods import CATALOGUE
from cauri.domain.money import MAX_AMOUNT
from cauri.domain.payment_request import (
    DESCRIPTION_MAX,
    METADATA_KEY_MAX,
    METADATA_MAX_ENTRIES,
    METADATA_VALUE_MAX,
    NAME_MAX,
    PHONE_DIGITS_MAX,
    PHONE_DIGITS_MIN,
    TEXT_MAX,
    URL_MAX,
)
from cauri.domain.payments import PaymentStatus
from cauri.domain.payout_request import PAYOUT_CURRENCIES, RECIPIENT_DIGITS_MAX
from cauri.domain.payouts import PayoutStatus
from cauri.domain.representation import EventType
from cauri.services.idempotency import KEY_MAX

Schema = dict[str, Any]
_DOCUMENTED = ConfigDict(use_attribute_docstrings=True)

# The initialize request as clients send it, before validation: lenient where Moneroo's SDKs are (amounts as
# strings, numbers for phones, [] for no metadata), bounded by the same constants the rules check.

#: No control character (``cauri.domain.text``); a required text has at least one visible character.
NO_CONTROL = r"^[^\x00-\x1f\x7f-\x9f\u2028\u2029]*$"
VISIBLE = r"^\s*[^\s\x00-\x1f\x7f-\x9f\u2028\u2029][^\x00-\x1f\x7f-\x9f\u2028\u2029]*$"
#: An http(s) URL with a host, an optional port, no space and no control character (stricter than the rules).
_PORT = r"([0-9]{1,4}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])"
HTTP_URL = r"^[Hh][Tt][Tt][Pp][Ss]?://[A-Za-z0-9.-]+(:" + _PORT + r")?([/?#][^\s\x00-\x1f\x7f-\x9f\u2028\u2029]*)?$"
Text = Annotated[str, Field(min_length=1, pattern=VISIBLE)]
OptionalText = Annotated[str, Field(max_length=TEXT_MAX, pattern=NO_CONTROL)] | None
Amount = (
    Annotated[int, Field(ge=1, le=MAX_AMOUNT)]
    | Annotated[float, Field(gt=0, le=MAX_AMOUNT, multiple_of=1)]
    # "0", "-5" and a 13th digit are refused, as the rules refuse them; leading zeros and ".00" are not.
    | Annotated[str, Field(pattern=r"^ *\+?0*[1-9][0-9]{0,11}(\.0+)? *$")]
)
CurrencyCode = Annotated[str, Field(json_schema_extra={"enum": sorted(CATALOGUE.payment_currencies)})]
MethodCode = Annotated[str, Field(json_schema_extra={"enum": sorted([*CATALOGUE.payment_methods, *CATALOGUE.aliases])})]
MetadataKey = Annotated[str, Field(min_length=1, max_length=METADATA_KEY_MAX)]
MetadataValue = Annotated[str, Field(max_length=METADATA_VALUE_MAX, pattern=NO_CONTROL)]
# A key pattern would become patternProperties (which leaves other keys free): it goes in propertyNames.
_KEYS = {"propertyNames": {"minLength": 1, "maxLength": METADATA_KEY_MAX, "pattern": NO_CONTROL}}
Metadata = (
    Annotated[dict[MetadataKey, MetadataValue], Field(max_length=METADATA_MAX_ENTRIES, json_schema_extra=_KEYS)]
    | Annotated[list[str], Field(max_length=0)]
    | None
)


@with_config(_DOCUMENTED)
class InitializeCustomer(TypedDict):
    """What the chosen method needs and is missing here, the checkout page asks for."""

    email: Annotated[str, Field(max_length=254, pattern=NO_CONTROL, json_schema_extra={"format": "email"})]
    first_name: Annotated[Text, Field(max_length=NAME_MAX)]
    last_name: Annotated[Text, Field(max_length=NAME_MAX)]
    phone: NotRequired[str | int | None]
    """Digits, spaces, + ( ) - ."""
    address: NotRequired[OptionalText]
    city: NotRequired[OptionalText]
    state: NotRequired[OptionalText]
    country: NotRequired[str | None]
    """ISO 3166-1 alpha-2."""
    zip: NotRequired[OptionalText]


@with_config(_DOCUMENTED)
class RestrictedPhone(TypedDict):
    number: (
        Annotated[str, Field(pattern=rf"^ *\+?[0-9]{{{PHONE_DIGITS_MIN},{PHONE_DIGITS_MAX}}} *$")]
        | Annotated[int, Field(ge=10 ** (PHONE_DIGITS_MIN - 1), lt=10**PHONE_DIGITS_MAX)]
    )
    """The number's digits (6 to 15), international or national."""
    country_code: str | int
    """``BJ``, ``229`` or ``+229``."""


@with_config(_DOCUMENTED)
class InitializeRequest(TypedDict):
    amount: Amount
    """A whole amount in the currency's main unit, more than 0. ``1500``, ``1500.0`` and ``"1500.00"`` are the
    same amount; a fractional amount is refused."""
    currency: CurrencyCode
    """ISO 4217, accepted by at least one method (case-insensitive)."""
    description: Annotated[Text, Field(max_length=DESCRIPTION_MAX)]
    return_url: Annotated[str, Field(max_length=URL_MAX, pattern=HTTP_URL, json_schema_extra={"format": "uri"})]
    """Absolute http(s) URL. When the payment ends the customer is sent there with ``paymentId``,
    ``paymentStatus``, ``monerooPaymentId`` and ``monerooPaymentStatus`` added to its query string."""
    customer: InitializeCustomer
    metadata: NotRequired[Metadata]
    """String values, as many as the limits allow; ``[]`` means none."""
    methods: NotRequired[list[MethodCode] | None]
    """Method codes the customer may use (older aliases accepted); absent or empty: all."""
    restrict_country_code: NotRequired[str | None]
    """ISO 3166-1 alpha-2: only that country's methods. Excludes ``restricted_phone``."""
    restricted_phone: NotRequired[RestrictedPhone | None]
    """The only number the customer may pay from. Excludes ``restrict_country_code``."""


PayoutCurrencyCode = Annotated[str, Field(json_schema_extra={"enum": sorted(PAYOUT_CURRENCIES)})]
PayoutMethodCode = Annotated[str, Field(json_schema_extra={"enum": sorted(CATALOGUE.payout_methods)})]
RecipientNumber = Annotated[str, Field(max_length=RECIPIENT_DIGITS_MAX + 1)] | int


@with_config(_DOCUMENTED)
class PayoutRecipient(TypedDict):
    """The fields the method asks for (see ``/utils/payout/methods``)."""

    msisdn: NotRequired[RecipientNumber]
    """Mobile money: the number in international format, digits only, without + (``22951345020``), of the
    method's country. In the sandbox the test numbers 4149518161 (success), 4149518162 (failed) and
    4149518163 (stays pending) are accepted as they are; any other number fails."""
    account_number: NotRequired[RecipientNumber]
    """``moneroo_payout_demo``: digits (the sandbox's test numbers decide the outcome)."""


@with_config(_DOCUMENTED)
class PayoutInitializeRequest(TypedDict):
    amount: Amount
    """A whole amount in the currency's main unit, more than 0 (as for payments)."""
    currency: PayoutCurrencyCode
    """The method's currency (case-insensitive)."""
    description: Annotated[Text, Field(max_length=DESCRIPTION_MAX)]
    method: PayoutMethodCode
    """A payout method code."""
    customer: InitializeCustomer
    """Who is paid (as for payments)."""
    recipient: PayoutRecipient
    metadata: NotRequired[Metadata]
    """String values, as many as the limits allow; ``[]`` means none."""


@with_config(_DOCUMENTED)
class RefundRequest(TypedDict):
    """Our extension. An empty body (or ``[]``) refunds all that is left."""

    amount: NotRequired[Amount | None]
    """Part of the amount paid, no more than what is left to refund; absent: all that is left."""
    reason: NotRequired[OptionalText]
    """Why, for your records (one line)."""


@with_config(_DOCUMENTED)
class WebhookEndpointRequest(TypedDict):
    url: Annotated[str, Field(max_length=2048, pattern=HTTP_URL, json_schema_extra={"format": "uri"})]
    events: NotRequired[Annotated[list[EventType], Field(min_length=1)] | None]
    """The events to send there; absent or null: all."""
    secret: NotRequired[Annotated[str, Field(min_length=16, max_length=200, pattern=NO_CONTROL)] | None]
    """The signing secret, if you choose it; else one is generated and returned once. A secret starting with
    ``whsec_`` must continue with the standard base64 of a 24 to 64 byte key (Standard Webhooks)."""


@with_config(_DOCUMENTED)
class ProviderAccountRequest(TypedDict):
    """Our extension: an account of the app at a real provider, for the key's environment."""

    provider: Annotated[str, Field(max_length=32, pattern=NO_CONTROL, examples=["pawapay"])]
    """The provider's code: one of the connectors installed (``cauri providers add --help`` lists them)."""
    label: Annotated[str, Field(min_length=1, max_length=providers.MAX_LABEL, pattern=NO_CONTROL)]
    """Your name for the account, unique among the app's accounts of the environment."""
    credentials: dict[str, Annotated[str, Field(min_length=1, max_length=providers.MAX_CREDENTIAL, pattern=NO_CONTROL)]]
    """Exactly the provider's credential fields. Stored sealed, never returned."""
    sandbox: NotRequired[bool]
    """Use the provider's own sandbox; required (and the default) with a sandbox key."""
    methods: NotRequired[Annotated[list[str], Field(min_length=1)]]
    """The payment methods to route to this account, among the provider's; absent: all of them."""
    priority: NotRequired[Annotated[int, Field(ge=0, le=providers.MAX_PRIORITY)]]
    """Routing tries the accounts serving a method by priority, lower first (default 100)."""
    base_url: NotRequired[Annotated[str, Field(max_length=2048, pattern=HTTP_URL)] | None]
    """The provider's API root when not the documented one: https, or http to this machine only."""


@with_config(_DOCUMENTED)
class RateRequest(TypedDict):
    """Our extension, for the gateway's operator."""

    rate: Annotated[str, Field(pattern=r"^\s*[0-9]{1,12}(\.[0-9]{1,12})?\s*$", examples=["1550.25"])]
    """Units of the quote currency per unit of the base currency, as exact decimal text (not a JSON number)."""


# The error envelopes (``cauri.api.envelope``): success false, no data.


@with_config(_DOCUMENTED)
class Error(TypedDict):
    success: Literal[False]
    message: str
    data: None
    errors: None


@with_config(_DOCUMENTED)
class ValidationError(TypedDict):
    success: Literal[False]
    message: str
    """The first error, then ``(and N more errors)`` (Laravel's wording)."""
    data: None
    errors: dict[str, list[str]]
    """Each failing field (dotted when nested: ``customer.email``) and its messages."""


#: What the document names: what the API answers, and what it reads.
ANSWERS = (
    representation.Payment,
    representation.Refund,
    ledger.Balance,
    rates.ExchangeRate,
    representation.Initialized,
    representation.ListMeta,
    representation.PaymentMethod,
    representation.PayoutMethod,
    representation.WebhookEndpoint,
    providers.ProviderAccountSummary,
    representation.Event,
    representation.Resent,
    representation.Delivery,
    representation.WebhookBody,
    payout_representation.Payout,
    payout_representation.PayoutInitialized,
    payout_representation.PayoutWebhookBody,
    Error,
    ValidationError,
)
REQUESTS = (
    InitializeRequest,
    PayoutInitializeRequest,
    RefundRequest,
    WebhookEndpointRequest,
    ProviderAccountRequest,
    RateRequest,
)
REF = "#/components/schemas/{model}"


class _Generator(GenerateJsonSchema):
    """Pydantic's generator, without a title on every field (names already say it)."""

    def field_title_should_be_set(self, schema: CoreSchema) -> bool:
        return False


@cache
def component_schemas() -> dict[str, Schema]:
    """Every named schema, by the class it comes from."""
    inputs: list[tuple[str, JsonSchemaMode, TypeAdapter[Any]]] = [
        *((model.__name__, "serialization", TypeAdapter(model)) for model in ANSWERS),
        *((model.__name__, "validation", TypeAdapter(model)) for model in REQUESTS),
    ]
    _, top = TypeAdapter.json_schemas(inputs, ref_template=REF, schema_generator=_Generator)
    schemas: dict[str, Schema] = top["$defs"]
    return schemas


def _ref(name: str) -> Schema:
    return {"$ref": REF.format(model=name)}


def _envelope(data: Schema, **extra: Schema) -> Schema:
    properties = {
        "success": {"type": "boolean", "const": True},
        "message": {"type": "string"},
        "data": data,
        "errors": {"type": "null"},
        **extra,
    }
    return {"type": "object", "properties": properties, "required": list(properties)}


def _list(name: str) -> Schema:
    return {"type": "array", "items": _ref(name)}


def _answer(description: str, schema: Schema, headers: dict[str, Any] | None = None) -> Schema:
    answer: Schema = {"description": description, "content": {"application/json": {"schema": schema}}}
    if headers:
        answer["headers"] = headers
    return answer


def _error(description: str) -> Schema:
    return _answer(description, _ref("Error"))


ERRORS: dict[str, Schema] = {
    "400": _error("Malformed request: the body is not JSON, not an object, or a header is malformed."),
    "401": _error("Missing, invalid, expired or revoked secret key."),
    "403": _error("The app is disabled."),
    "404": _error("No such payment for this key's app and environment, or no such route."),
    "405": _error("The route exists, with other methods (see the Allow header)."),
    "409": _error("A request with the same Idempotency-Key is still running, or a resource is locked."),
    "408": _error("The body did not arrive within CAURI_BODY_TIMEOUT_SECONDS."),
    "413": _error("The body is larger than the gateway accepts (CAURI_MAX_BODY_BYTES)."),
    "422": _answer("Validation failed: `errors` names each field.", _ref("ValidationError")),
    "429": _answer(
        "Too many requests: this key's rate limit, or too many failed authentications from this client address "
        "(CAURI_AUTH_FAILURES_PER_MINUTE).",
        _ref("Error"),
        {"Retry-After": {"description": "Seconds to wait.", "schema": {"type": "string"}}},
    ),
    "503": _error("The gateway is momentarily busy; retry."),
}


def _errors(*codes: str) -> dict[str, Schema]:
    return {code: ERRORS[code] for code in codes}


IDEMPOTENCY_KEY: Schema = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": (
        "Makes a retry safe. The same key with the same body within 24 hours replays the first answer byte "
        "for byte (with `Idempotent-Replayed: true`); the same key with another body is a 422; while the first "
        "request still runs, a second one waits briefly, then gets 409. Keys are scoped per app and "
        "environment; only successful answers are kept."
    ),
    "schema": {"type": "string", "minLength": 1, "maxLength": KEY_MAX, "pattern": "^[\\x21-\\x7e]+$"},
}
_STATUS = "(" + "|".join(s.value for s in PaymentStatus) + ")"
STATUSES = f"^{_STATUS}(,{_STATUS})*$"
_PAYOUT_STATUS = "(" + "|".join(s.value for s in PayoutStatus) + ")"
PAYOUT_STATUSES = f"^{_PAYOUT_STATUS}(,{_PAYOUT_STATUS})*$"
PAYMENT_ID: Schema = {"name": "payment_id", "in": "path", "required": True, "schema": {"type": "string"}}
PAYOUT_ID: Schema = {"name": "payout_id", "in": "path", "required": True, "schema": {"type": "string"}}


WEBHOOKS_DESCRIPTION = (
    "Events (`payment.initiated`, `payment.success`, `payment.failed` — one per failed attempt —, "
    "`payment.cancelled`, and for refunds `payment.refunded` and `refund.failed`) are POSTed as "
    '`{"event", "data"}` with `data` the payment object, signed with '
    "`X-Moneroo-Signature` (hex HMAC-SHA256 of the raw body) and the Standard Webhooks headers `webhook-id`, "
    "`webhook-timestamp`, `webhook-signature`. Only a 2xx counts; retries over about three days. Live endpoints "
    "may not target loopback, private or link-local addresses."
)

DESCRIPTION = """\
Cauri speaks Moneroo's v1 API: point a Moneroo client at this server's `/v1` and it works.

* **Keys**: `Authorization: Bearer <secret key>`. A key belongs to one app and one environment:
  `pvk_sandbox_…` keys see sandbox payments only, `pvk_…` keys live ones (anything else is a 404).
* **Envelope**: every answer is `{"success", "message", "data", "errors"}`; validation errors (422) map each
  field to its messages.
* **Money**: amounts are integers in the currency's main unit.
* The methods lists (`/utils/...`) are public and outside `/v1`, as on Moneroo.
"""


PROVIDERS_DESCRIPTION = (
    "Live payments are collected through the app's accounts at real providers: for each method, the enabled "
    "accounts serving it are tried by priority. When a provider cannot be reached before anything was sent, the "
    "attempt moves to the next account; an account that keeps failing is skipped for a while (circuit breaker). "
    "The payment's `capture.gateway` names the account that served it. Sandbox payments use the sandbox, unless "
    "an account of the sandbox environment (in its provider's sandbox) serves the method."
)


def _payout_paths(secured: list[dict[str, list[str]]]) -> dict[str, Any]:
    """``/v1/payouts``: Moneroo's payout API, and a list like the payments'."""
    payout_answer = _envelope(_ref("Payout"))
    read_errors = _errors("401", "403", "404", "429", "503")
    return {
        "/v1/payouts/initialize": {
            "post": {
                "operationId": "initializePayout",
                "summary": "Send money to a recipient",
                "description": (
                    "Answers 201 with the payout's id once it is recorded (`initiated`); it is then handed to "
                    "its provider (`pending`) and ends `success` or `failed` asynchronously: verify it, or "
                    "wait for `payout.success` / `payout.failed`. Live payouts need a provider set up for the "
                    "method (else 422 on `method`)."
                ),
                "security": secured,
                "parameters": [IDEMPOTENCY_KEY],
                "requestBody": {
                    "required": True,
                    "description": "JSON, whatever the Content-Type header says.",
                    "content": {"application/json": {"schema": _ref("PayoutInitializeRequest")}},
                },
                "responses": {
                    "201": _answer("Created.", _envelope(_ref("PayoutInitialized"))),
                    **_errors("400", "401", "403", "408", "409", "413", "422", "429", "503"),
                },
            }
        },
        "/v1/payouts": {
            "get": {
                "operationId": "listPayouts",
                "summary": "List payouts, newest first",
                "description": "The payments list's filters: `status`, `created_from`, `created_to`, "
                "`customer_email`, `metadata[key]`, `limit`, `cursor`.",
                "security": secured,
                "parameters": [
                    {
                        "name": "status",
                        "in": "query",
                        "description": "One or more statuses, comma-separated or repeated.",
                        "schema": {"type": "string", "pattern": PAYOUT_STATUSES},
                    },
                    {"name": "created_from", "in": "query", "schema": {"type": "string", "format": "date-time"}},
                    {
                        "name": "created_to",
                        "in": "query",
                        "description": "Exclusive; a date alone includes that whole day.",
                        "schema": {"type": "string", "format": "date-time"},
                    },
                    {
                        "name": "customer_email",
                        "in": "query",
                        "schema": {"type": "string", "maxLength": EMAIL_MAX, "pattern": NO_CONTROL},
                    },
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100}},
                    {
                        "name": "cursor",
                        "in": "query",
                        "description": "`meta.next_cursor` of the previous page, as it was.",
                        "schema": {"type": "string", "minLength": 1, "pattern": "^[A-Za-z0-9_-]+$"},
                    },
                ],
                "responses": {
                    "200": _answer(
                        "A page of payouts; pass `meta.next_cursor` as `cursor` for the next.",
                        _envelope(_list("Payout"), meta=_ref("ListMeta")),
                    ),
                    **_errors("401", "403", "422", "429", "503"),
                },
            }
        },
        "/v1/payouts/{payout_id}/verify": {
            "get": {
                "operationId": "verifyPayout",
                "summary": "Confirm a payout's state",
                "security": secured,
                "parameters": [PAYOUT_ID],
                "responses": {"200": _answer("The payout.", payout_answer), **read_errors},
            }
        },
        "/v1/payouts/{payout_id}": {
            "get": {
                "operationId": "retrievePayout",
                "summary": "Retrieve a payout (the same object as verify)",
                "security": secured,
                "parameters": [PAYOUT_ID],
                "responses": {"200": _answer("The payout.", payout_answer), **read_errors},
            }
        },
    }


def openapi_document(public_url: str) -> dict[str, Any]:
    """The whole document; ``public_url`` is the server clients are told to call."""
    secured: list[dict[str, list[str]]] = [{"secretKey": []}]
    payment_answer = _envelope(_ref("Payment"))
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Cauri API (Moneroo v1 compatible)",
            "version": __version__,
            "description": DESCRIPTION,
        },
        "servers": [{"url": public_url}],
        "components": {
            "securitySchemes": {
                "secretKey": {"type": "http", "scheme": "bearer", "description": "Secret key."},
                "operatorToken": {"type": "http", "scheme": "bearer", "description": "CAURI_OPERATOR_TOKEN."},
            },
            "schemas": component_schemas(),
        },
        "paths": {
            "/v1/payments/initialize": {
                "post": {
                    "operationId": "initializePayment",
                    "summary": "Create a payment and get its checkout URL",
                    "security": secured,
                    "parameters": [IDEMPOTENCY_KEY],
                    "requestBody": {
                        "required": True,
                        "description": "JSON, whatever the Content-Type header says.",
                        "content": {"application/json": {"schema": _ref("InitializeRequest")}},
                    },
                    "responses": {
                        "201": _answer(
                            "Created: redirect the customer to `checkout_url`.",
                            _envelope(_ref("Initialized")),
                        ),
                        **_errors("400", "401", "403", "408", "409", "413", "422", "429", "503"),
                    },
                }
            },
            "/v1/payments": {
                "get": {
                    "operationId": "listPayments",
                    "summary": "List payments, newest first",
                    "description": "Also filters on metadata: `metadata[order_id]=124` (repeatable).",
                    "security": secured,
                    "parameters": [
                        {
                            "name": "status",
                            "in": "query",
                            "description": "One or more statuses, comma-separated or repeated.",
                            "schema": {"type": "string", "pattern": STATUSES},
                        },
                        {
                            "name": "created_from",
                            "in": "query",
                            "schema": {"type": "string", "format": "date-time"},
                        },
                        {
                            "name": "created_to",
                            "in": "query",
                            "description": "Exclusive; a date alone includes that whole day.",
                            "schema": {"type": "string", "format": "date-time"},
                        },
                        {
                            "name": "customer_email",
                            "in": "query",
                            "schema": {"type": "string", "maxLength": EMAIL_MAX, "pattern": NO_CONTROL},
                        },
                        {
                            "name": "limit",
                            "in": "query",
                            "schema": {"type": "integer", "minimum": 1, "maximum": 100},
                        },
                        {
                            "name": "cursor",
                            "in": "query",
                            "description": "`meta.next_cursor` of the previous page, as it was.",
                            "schema": {"type": "string", "minLength": 1, "pattern": "^[A-Za-z0-9_-]+$"},
                        },
                    ],
                    "responses": {
                        "200": _answer(
                            "A page of payments; pass `meta.next_cursor` as `cursor` for the next.",
                            _envelope(_list("Payment"), meta=_ref("ListMeta")),
                        ),
                        **_errors("401", "403", "422", "429", "503"),
                    },
                }
            },
            "/v1/payments/{payment_id}/verify": {
                "get": {
                    "operationId": "verifyPayment",
                    "summary": "Confirm a payment's state (call it before delivering)",
                    "security": secured,
                    "parameters": [PAYMENT_ID],
                    "responses": {
                        "200": _answer("The payment.", payment_answer),
                        **_errors("401", "403", "404", "429", "503"),
                    },
                }
            },
            "/v1/payments/{payment_id}": {
                "get": {
                    "operationId": "retrievePayment",
                    "summary": "Retrieve a payment (the same object as verify)",
                    "security": secured,
                    "parameters": [PAYMENT_ID],
                    "responses": {
                        "200": _answer("The payment.", payment_answer),
                        **_errors("401", "403", "404", "429", "503"),
                    },
                }
            },
            "/v1/payments/{payment_id}/process": {
                "post": {
                    "operationId": "processPayment",
                    "summary": "Mark a paid payment as processed (the order was delivered)",
                    "description": "Idempotent. Only a `success` payment can be processed (else 422). Body ignored.",
                    "security": secured,
                    "parameters": [PAYMENT_ID, IDEMPOTENCY_KEY],
                    "responses": {
                        "200": _answer("The payment, processed.", payment_answer),
                        **_errors("400", "401", "403", "404", "408", "409", "413", "422", "429", "503"),
                    },
                }
            },
            "/v1/payments/{payment_id}/refund": {
                "post": {
                    "operationId": "refundPayment",
                    "summary": "Refund a paid payment, in part or whole (our extension)",
                    "description": (
                        "Only a `success` payment can be refunded (else 422 on `status`); several partial refunds "
                        "may follow, never beyond the amount paid (else 422 on `amount`). Answers 201 with the "
                        "refund (`initiated`); it is then handed to the provider that took the payment: wait for "
                        "`payment.refunded` / `refund.failed`, or read the payment's `refunds`. A failed refund's "
                        "amount can be refunded again."
                    ),
                    "security": secured,
                    "parameters": [PAYMENT_ID, IDEMPOTENCY_KEY],
                    "requestBody": {
                        "required": False,
                        "content": {"application/json": {"schema": _ref("RefundRequest")}},
                    },
                    "responses": {
                        "201": _answer("Created.", _envelope(_ref("Refund"))),
                        **_errors("400", "401", "403", "404", "408", "409", "413", "422", "429", "503"),
                    },
                }
            },
            **_payout_paths(secured),
            "/v1/balances": {
                "get": {
                    "operationId": "listBalances",
                    "summary": "The app's balances, one per currency (our extension)",
                    "description": (
                        "Collected (successful payments), refunded and paid out (refunds and payouts not failed), "
                        "and available = collected - refunded - paid_out, for the key's app and environment. Live, "
                        "a refund or payout beyond what is available is refused (422 on `amount`); a sandbox app "
                        "has a credit (`CAURI_SANDBOX_BALANCE`), so its available balance may go below zero."
                    ),
                    "security": secured,
                    "responses": {
                        "200": _answer("The balances.", _envelope(_list("Balance"))),
                        **_errors("401", "403", "429", "503"),
                    },
                }
            },
            "/v1/rates": {
                "get": {
                    "operationId": "listRates",
                    "summary": "The exchange rates the gateway converts with (our extension)",
                    "description": (
                        "The legal pegs first (XOF and XAF to EUR at 655.957), then the rates the operator set "
                        "(`cauri rates set`), each with whether it is fresh enough to be used. The same for every app."
                    ),
                    "security": secured,
                    "responses": {
                        "200": _answer("The rates.", _envelope(_list("ExchangeRate"))),
                        **_errors("401", "403", "429", "503"),
                    },
                }
            },
            "/v1/rates/{base}/{quote}": {
                "put": {
                    "operationId": "setRate",
                    "summary": "Set the operator's rate of a pair (our extension, for the gateway's operator)",
                    "description": (
                        "As `cauri rates set BASE QUOTE RATE`: replaces the pair's operator rate. Rates are the same "
                        "for every app, so this takes the operator's token (`CAURI_OPERATOR_TOKEN`), not an app's "
                        "key; while that setting is empty the operation answers 403. Pegged pairs (XOF, XAF, EUR) "
                        "are the law's and are refused."
                    ),
                    "security": [{"operatorToken": []}],
                    "parameters": [
                        {
                            "name": name,
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string", "examples": [example]},
                        }
                        for name, example in (("base", "USD"), ("quote", "NGN"))
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": _ref("RateRequest")}},
                    },
                    "responses": {
                        "200": _answer("The rate as set.", _envelope(_ref("ExchangeRate"))),
                        **_errors("400", "401", "403", "408", "413", "422", "429", "503"),
                    },
                }
            },
            "/utils/payment/methods": {
                "get": {
                    "operationId": "listPaymentMethods",
                    "summary": "Every payment method (public)",
                    "security": [],
                    "responses": {"200": _answer("The catalogue.", _envelope(_list("PaymentMethod")))},
                }
            },
            "/v1/webhooks": {
                "post": {
                    "operationId": "createWebhookEndpoint",
                    "summary": "Add a webhook endpoint (the signing secret is returned once)",
                    "description": WEBHOOKS_DESCRIPTION,
                    "security": secured,
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": _ref("WebhookEndpointRequest")}},
                    },
                    "responses": {
                        "201": _answer("Created.", _envelope(_ref("WebhookEndpoint"))),
                        **_errors("400", "401", "403", "408", "413", "422", "429", "503"),
                    },
                },
                "get": {
                    "operationId": "listWebhookEndpoints",
                    "summary": "The app's webhook endpoints for the key's environment",
                    "security": secured,
                    "responses": {
                        "200": _answer("The endpoints.", _envelope(_list("WebhookEndpoint"))),
                        **_errors("401", "403", "429", "503"),
                    },
                },
            },
            "/v1/providers": {
                "post": {
                    "operationId": "createProviderAccount",
                    "summary": "Connect an account at a real provider (our extension; credentials are never returned)",
                    "description": PROVIDERS_DESCRIPTION,
                    "security": secured,
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": _ref("ProviderAccountRequest")}},
                    },
                    "responses": {
                        "201": _answer("Created.", _envelope(_ref("ProviderAccountSummary"))),
                        **_errors("400", "401", "403", "408", "413", "422", "429", "503"),
                    },
                },
                "get": {
                    "operationId": "listProviderAccounts",
                    "summary": "The app's provider accounts for the key's environment, in routing order",
                    "security": secured,
                    "responses": {
                        "200": _answer("The accounts.", _envelope(_list("ProviderAccountSummary"))),
                        **_errors("401", "403", "429", "503"),
                    },
                },
            },
            "/v1/providers/{account_id}": {
                "delete": {
                    "operationId": "deleteProviderAccount",
                    "summary": "Stop routing payments to an account",
                    "security": secured,
                    "parameters": [
                        {"name": "account_id", "in": "path", "required": True, "schema": {"type": "string"}}
                    ],
                    "responses": {
                        "200": _answer("Deleted.", _envelope({"type": "null"})),
                        **_errors("401", "403", "404", "429", "503"),
                    },
                }
            },
            "/v1/webhooks/{endpoint_id}": {
                "delete": {
                    "operationId": "deleteWebhookEndpoint",
                    "summary": "Stop sending to an endpoint",
                    "security": secured,
                    "parameters": [
                        {"name": "endpoint_id", "in": "path", "required": True, "schema": {"type": "string"}}
                    ],
                    "responses": {
                        "200": _answer("Deleted.", _envelope({"type": "null"})),
                        **_errors("401", "403", "404", "429", "503"),
                    },
                }
            },
            "/v1/events": {
                "get": {
                    "operationId": "listEvents",
                    "summary": "The newest events, with the state of their deliveries",
                    "security": secured,
                    "parameters": [
                        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100}},
                        {
                            "name": "before",
                            "in": "query",
                            "description": "The last event id of the previous page.",
                            "schema": {"type": "string", "pattern": "^[A-Za-z0-9_:-]{1,100}$"},
                        },
                    ],
                    "responses": {
                        "200": _answer("The events.", _envelope(_list("Event"))),
                        **_errors("401", "403", "422", "429", "503"),
                    },
                }
            },
            "/v1/events/{event_id}/resend": {
                "post": {
                    "operationId": "resendEvent",
                    "summary": "Send an event again to the app's endpoints",
                    "security": secured,
                    "parameters": [{"name": "event_id", "in": "path", "required": True, "schema": {"type": "string"}}],
                    "responses": {
                        "200": _answer(
                            "Scheduled.",
                            _envelope(_ref("Resent")),
                        ),
                        **_errors("401", "403", "404", "429", "503"),
                    },
                }
            },
            "/v1/deliveries/{delivery_id}": {
                "get": {
                    "operationId": "getDelivery",
                    "summary": "A webhook delivery and every try made",
                    "security": secured,
                    "parameters": [
                        {"name": "delivery_id", "in": "path", "required": True, "schema": {"type": "string"}}
                    ],
                    "responses": {
                        "200": _answer("The delivery.", _envelope(_ref("Delivery"))),
                        **_errors("401", "403", "404", "429", "503"),
                    },
                }
            },
            "/utils/payout/methods": {
                "get": {
                    "operationId": "listPayoutMethods",
                    "summary": "Every payout method (public)",
                    "security": [],
                    "responses": {"200": _answer("The catalogue.", _envelope(_list("PayoutMethod")))},
                }
            },
        },
        "webhooks": {
            "payment": {
                "post": {
                    "operationId": "paymentEvent",
                    "summary": "What your webhook endpoint receives when a payment changes",
                    "description": WEBHOOKS_DESCRIPTION,
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": _ref("WebhookBody")}},
                    },
                    "responses": {"200": {"description": "Any 2xx acknowledges the event; anything else is retried."}},
                }
            },
            "payout": {
                "post": {
                    "operationId": "payoutEvent",
                    "summary": "What your webhook endpoint receives when a payout changes",
                    "description": WEBHOOKS_DESCRIPTION,
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": _ref("PayoutWebhookBody")}},
                    },
                    "responses": {"200": {"description": "Any 2xx acknowledges the event; anything else is retried."}},
                }
            },
        },
    }
