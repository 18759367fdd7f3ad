"""The OpenAPI 3.1 description of the API as it really answers: envelope, fields, rules and errors."""

from __future__ import annotations

from typing import Any

from cauri import __version__
from cauri.domain.methods import CATALOGUE
from cauri.domain.payment_request import (
    DESCRIPTION_MAX,
    METADATA_KEY_MAX,
    METADATA_MAX_ENTRIES,
    METADATA_VALUE_MAX,
    NAME_MAX,
    TEXT_MAX,
    URL_MAX,
)
from cauri.domain.payments import PaymentStatus
from cauri.domain.webhooks import PAYMENT_EVENTS
from cauri.store.idempotency import KEY_MAX

Schema = dict[str, Any]

STRING_OR_NULL: Schema = {"type": ["string", "null"]}
STAMP: Schema = {"type": "string", "format": "date-time", "examples": ["2024-01-31T14:46:13.000000Z"]}
STAMP_OR_NULL: Schema = {"type": ["string", "null"], "format": "date-time"}


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _object(properties: dict[str, Schema], *, required: list[str] | None = None, **extra: Any) -> Schema:
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties) if required is None else required,
        **extra,
    }


def _envelope(data: Schema, **extra: Schema) -> Schema:
    return _object(
        {
            "success": {"type": "boolean", "const": True},
            "message": {"type": "string"},
            "data": data,
            "errors": {"type": "null"},
            **extra,
        }
    )


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
    "413": _error("The body is larger than the gateway accepts (CAURI_MAX_BODY_BYTES)."),
    "422": _answer("Validation failed: `errors` names each field.", _ref("ValidationError")),
    "429": _answer(
        "Too many requests for this key.",
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
PAYMENT_ID: Schema = {"name": "payment_id", "in": "path", "required": True, "schema": {"type": "string"}}


def _schemas() -> dict[str, Schema]:
    method_codes = sorted([*CATALOGUE.payment_methods, *CATALOGUE.aliases])
    currency = _object(
        {
            "code": {"type": "string"},
            "name": {"type": "string"},
            "symbol": {"type": "string"},
            "symbol_first": {"type": "boolean"},
            "decimals": {"type": "integer"},
            "decimal_mark": {"type": "string"},
            "thousands_separator": {"type": "string"},
            "subunit": STRING_OR_NULL,
            "subunit_to_unit": {"type": "integer"},
            "symbol_native": {"type": "string"},
            "decimal_digits": {"type": "integer"},
            "rounding": {"type": "integer"},
            "name_plural": {"type": "string"},
            "icon_url": STRING_OR_NULL,
        }
    )
    app = _object(
        {
            "id": {"type": "string"},
            "name": {"type": "string"},
            "website_url": STRING_OR_NULL,
            "icon_url": STRING_OR_NULL,
            "created_at": STAMP,
            "updated_at": STAMP,
            "is_enabled": {"type": "boolean"},
        }
    )
    customer = _object(
        {
            "id": {"type": "string"},
            "first_name": {"type": "string"},
            "last_name": {"type": "string"},
            "email": {"type": "string"},
            **{name: STRING_OR_NULL for name in ("phone", "address", "city", "state", "country_code", "country")},
            "zip_code": STRING_OR_NULL,
            "created_at": STAMP,
            "updated_at": STAMP,
        }
    )
    payment = _object(
        {
            "id": {"type": "string", "examples": ["py_k4su1ii7abdzq2xw"]},
            "status": {"type": "string", "enum": [s.value for s in PaymentStatus]},
            "is_processed": {"type": "boolean"},
            "processed_at": STAMP_OR_NULL,
            "amount": {"type": "integer", "description": "In the currency's main unit (200 = 200 XOF)."},
            "amount_formatted": {"type": "string", "examples": ["XOF 200"]},
            "currency": _ref("Currency"),
            "description": {"type": "string"},
            "return_url": {"type": "string"},
            "environment": {"type": "string", "enum": ["sandbox", "live"]},
            "initiated_at": STAMP,
            "metadata": {"type": "object", "additionalProperties": {"type": "string"}},
            "app": _ref("App"),
            "customer": _ref("Customer"),
            "capture": {
                "type": "null",
                "description": "The attempt that paid (or the latest); null until one.",
            },
            "checkout_url": {"type": "string"},
            "payment_phone_number": STRING_OR_NULL,
            "created_at": STAMP,
            "updated_at": STAMP,
        },
        description="The payment object, as Moneroo's verify endpoint returns it (webhooks carry it too).",
    )
    country = _object(
        {
            "name": {"type": "string"},
            "code": {"type": "string"},
            "alpha_3_code": {"type": "string"},
            "dial_code": {"type": "string"},
            "currency": {"type": "string"},
            "currency_symbol": STRING_OR_NULL,
            "flag": {"type": "string"},
        }
    )
    method_currency = _object(
        {
            "name": {"type": "string"},
            "symbol": {"type": "string"},
            "code": {"type": "string"},
            "icon_url": STRING_OR_NULL,
        }
    )
    method_common: dict[str, Schema] = {
        "name": {"type": "string"},
        "short_code": {"type": "string"},
        "description": {"type": "string"},
        "icon_url": STRING_OR_NULL,
        "is_enabled": {"type": "boolean"},
        "kind": {"type": "string"},
        "currency": _ref("MethodCurrency"),
        "countries": {"type": "array", "items": _ref("Country")},
    }
    payout_field = _object(
        {
            "label": {"type": "string"},
            "type": {"type": "string"},
            "name": {"type": "string"},
            "length": {"type": "integer"},
        }
    )
    text = {"type": "string", "minLength": 1}
    optional_text: Schema = {"type": ["string", "null"], "maxLength": TEXT_MAX}
    initialize = _object(
        {
            "amount": {
                "description": (
                    'A whole amount in the currency\'s main unit, more than 0. `1500`, `1500.0` and `"1500.00"` '
                    "are the same amount; a fractional amount is refused."
                ),
                "oneOf": [
                    {"type": "integer", "minimum": 1},
                    {"type": "number", "exclusiveMinimum": 0, "multipleOf": 1},
                    {"type": "string", "pattern": "^\\s*\\+?[0-9]+(\\.0+)?\\s*$"},
                ],
            },
            "currency": {
                "type": "string",
                "description": "ISO 4217, accepted by at least one method (case-insensitive).",
                "enum": sorted(CATALOGUE.payment_currencies),
            },
            "description": {**text, "maxLength": DESCRIPTION_MAX},
            "return_url": {
                "type": "string",
                "format": "uri",
                "maxLength": URL_MAX,
                "description": (
                    "Absolute http(s) URL. When the payment ends the customer is sent there with `paymentId`, "
                    "`paymentStatus`, `monerooPaymentId` and `monerooPaymentStatus` added to its query string."
                ),
            },
            "customer": _object(
                {
                    "email": {"type": "string", "format": "email"},
                    "first_name": {**text, "maxLength": NAME_MAX},
                    "last_name": {**text, "maxLength": NAME_MAX},
                    "phone": {
                        "type": ["string", "integer", "null"],
                        "description": "Digits, spaces, + ( ) - .",
                    },
                    "address": optional_text,
                    "city": optional_text,
                    "state": optional_text,
                    "country": {"type": ["string", "null"], "description": "ISO 3166-1 alpha-2."},
                    "zip": optional_text,
                },
                required=["email", "first_name", "last_name"],
                description="What the chosen method needs and is missing here, the checkout page asks for.",
            ),
            "metadata": {
                "description": f"Up to {METADATA_MAX_ENTRIES} string values (keys up to {METADATA_KEY_MAX} "
                f"characters, values up to {METADATA_VALUE_MAX}); `[]` means none.",
                "oneOf": [
                    {
                        "type": "object",
                        "maxProperties": METADATA_MAX_ENTRIES,
                        "additionalProperties": {"type": "string", "maxLength": METADATA_VALUE_MAX},
                    },
                    {"type": "array", "maxItems": 0},
                    {"type": "null"},
                ],
            },
            "methods": {
                "type": ["array", "null"],
                "items": {"type": "string", "enum": method_codes},
                "description": "Method codes the customer may use (older aliases accepted); absent or empty: all.",
            },
            "restrict_country_code": {
                "type": ["string", "null"],
                "description": "ISO 3166-1 alpha-2: only that country's methods. Excludes `restricted_phone`.",
            },
            "restricted_phone": {
                "type": ["object", "null"],
                "properties": {
                    "number": {"type": ["string", "integer"]},
                    "country_code": {"type": ["string", "integer"], "description": "`BJ`, `229` or `+229`."},
                },
                "required": ["number", "country_code"],
                "description": "The only number the customer may pay from. Excludes `restrict_country_code`.",
            },
        },
        required=["amount", "currency", "description", "return_url", "customer"],
    )
    return {
        "Currency": currency,
        "App": app,
        "Customer": customer,
        "Payment": payment,
        "Country": country,
        "MethodCurrency": method_currency,
        "PaymentMethod": _object(
            {
                **method_common,
                "fields": {"type": "array"},
                "min_amount": {"type": "integer"},
                "max_amount": {"type": "integer"},
            }
        ),
        "PayoutMethod": _object({**method_common, "fields": {"type": "array", "items": _ref("PayoutField")}}),
        "PayoutField": payout_field,
        "InitializeRequest": initialize,
        "WebhookEndpointRequest": _object(
            {
                "url": {"type": "string", "format": "uri", "maxLength": 2048},
                "events": {"type": ["array", "null"], "items": {"type": "string", "enum": list(PAYMENT_EVENTS)}},
                "secret": {"type": ["string", "null"], "minLength": 16, "maxLength": 200},
            },
            required=["url"],
        ),
        "WebhookEndpoint": _object(
            {
                "id": {"type": "string"},
                "url": {"type": "string"},
                "events": {"type": ["array", "null"], "items": {"type": "string"}},
                "environment": {"type": "string", "enum": ["sandbox", "live"]},
                "is_enabled": {"type": "boolean"},
                "created_at": STAMP,
                "secret": {"type": "string", "description": "Only in the answer to the creation."},
            },
            required=["id", "url", "events", "environment", "is_enabled", "created_at"],
        ),
        "Event": _object(
            {
                "id": {"type": "string"},
                "type": {"type": "string"},
                "payment_id": STRING_OR_NULL,
                "created_at": STAMP,
                "deliveries": {
                    "type": "array",
                    "items": _object(
                        {
                            "id": {"type": "string"},
                            "endpoint_id": {"type": "string"},
                            "status": {"type": "string", "enum": ["pending", "delivered", "failed"]},
                            "attempts": {"type": "integer"},
                        }
                    ),
                },
            }
        ),
        "Delivery": _object(
            {
                "id": {"type": "string"},
                "event_id": {"type": "string"},
                "endpoint_id": {"type": "string"},
                "status": {"type": "string", "enum": ["pending", "delivered", "failed"]},
                "attempts": {"type": "integer"},
                "next_attempt_at": STAMP,
                "delivered_at": STAMP_OR_NULL,
                "tries": {
                    "type": "array",
                    "items": _object(
                        {
                            "attempted_at": STAMP,
                            "status_code": {"type": ["integer", "null"]},
                            "latency_ms": {"type": "integer"},
                            "response_excerpt": STRING_OR_NULL,
                            "error": STRING_OR_NULL,
                        }
                    ),
                },
            }
        ),
        "Error": _object(
            {
                "success": {"type": "boolean", "const": False},
                "message": {"type": "string"},
                "data": {"type": "null"},
                "errors": {"type": "null"},
            }
        ),
        "ValidationError": _object(
            {
                "success": {"type": "boolean", "const": False},
                "message": {
                    "type": "string",
                    "description": "The first error, then `(and N more errors)` (Laravel's wording).",
                },
                "data": {"type": "null"},
                "errors": {
                    "type": "object",
                    "additionalProperties": {"type": "array", "items": {"type": "string"}},
                    "description": "Each failing field (dotted when nested: `customer.email`) and its messages.",
                },
            }
        ),
    }


WEBHOOKS_DESCRIPTION = (
    "Events (`payment.initiated`, `payment.success`, `payment.failed` — one per failed attempt — and "
    '`payment.cancelled`) are POSTed as `{"event", "data"}` with `data` the payment object, signed with '
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
            "securitySchemes": {"secretKey": {"type": "http", "scheme": "bearer", "description": "Secret key."}},
            "schemas": _schemas(),
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
                            _envelope(
                                _object(
                                    {
                                        "id": {"type": "string"},
                                        "checkout_url": {"type": "string", "format": "uri"},
                                    }
                                )
                            ),
                        ),
                        **_errors("400", "401", "403", "409", "413", "422", "429", "503"),
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
                            "schema": {"type": "string"},
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
                        {"name": "customer_email", "in": "query", "schema": {"type": "string"}},
                        {
                            "name": "limit",
                            "in": "query",
                            "schema": {"type": "integer", "minimum": 1, "maximum": 100},
                        },
                        {"name": "cursor", "in": "query", "schema": {"type": "string"}},
                    ],
                    "responses": {
                        "200": _answer(
                            "A page of payments; pass `meta.next_cursor` as `cursor` for the next.",
                            _envelope(
                                {"type": "array", "items": _ref("Payment")},
                                meta=_object(
                                    {
                                        "limit": {"type": "integer"},
                                        "has_more": {"type": "boolean"},
                                        "next_cursor": STRING_OR_NULL,
                                    }
                                ),
                            ),
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
                        **_errors("400", "401", "403", "404", "409", "413", "422", "429", "503"),
                    },
                }
            },
            "/utils/payment/methods": {
                "get": {
                    "operationId": "listPaymentMethods",
                    "summary": "Every payment method (public)",
                    "security": [],
                    "responses": {
                        "200": _answer("The catalogue.", _envelope({"type": "array", "items": _ref("PaymentMethod")}))
                    },
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
                        **_errors("400", "401", "403", "413", "422", "429", "503"),
                    },
                },
                "get": {
                    "operationId": "listWebhookEndpoints",
                    "summary": "The app's webhook endpoints for the key's environment",
                    "security": secured,
                    "responses": {
                        "200": _answer(
                            "The endpoints.", _envelope({"type": "array", "items": _ref("WebhookEndpoint")})
                        ),
                        **_errors("401", "403", "429", "503"),
                    },
                },
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
                            "schema": {"type": "string"},
                        },
                    ],
                    "responses": {
                        "200": _answer("The events.", _envelope({"type": "array", "items": _ref("Event")})),
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
                            _envelope(_object({"id": {"type": "string"}, "deliveries": {"type": "integer"}})),
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
                    "responses": {
                        "200": _answer("The catalogue.", _envelope({"type": "array", "items": _ref("PayoutMethod")}))
                    },
                }
            },
        },
    }
