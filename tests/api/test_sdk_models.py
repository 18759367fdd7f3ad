"""The Python SDK (``clients/python``, which cannot import cauri) keeps its own copy of the payment's shape;
these tests hold that copy to the generated OpenAPI document, field by field, so neither drifts silently."""

from __future__ import annotations

import dataclasses
import types
from typing import Any, Union, get_args, get_origin, get_type_hints

import pytest
from cauri_client import _models as sdk

from cauri.api.openapi import openapi_document

DOCUMENT = openapi_document("http://127.0.0.1:8000")
SCHEMAS: dict[str, Any] = DOCUMENT["components"]["schemas"]
EVERY_TYPE = frozenset({"string", "integer", "number", "boolean", "object", "array", "null"})

#: Where each SDK field reads its value in the object the API sends (most read the field of the same name).
READS: dict[type, dict[str, tuple[str, ...]]] = {
    sdk.Payment: {"currency": ("currency", "code")},
    sdk.InitializedPayment: {},
    sdk.Payout: {
        "currency": ("currency", "code"),
        "method": ("disburse", "method", "short_code"),
        "recipient": ("disburse", "recipient"),
        "failure_message": ("disburse", "failure_message"),
    },
    sdk.InitializedPayout: {},
    sdk.Refund: {},
    sdk.Balance: {},
}
SCHEMA_OF = {
    sdk.Payment: "Payment",
    sdk.InitializedPayment: "Initialized",
    sdk.Payout: "Payout",
    sdk.InitializedPayout: "PayoutInitialized",
    sdk.Refund: "Refund",
    sdk.Balance: "Balance",
}


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = SCHEMAS[schema["$ref"].rsplit("/", 1)[1]]
    return schema


def allowed(schema: dict[str, Any]) -> set[str]:
    """The JSON types a schema lets the server send."""
    schema = _resolve(schema)
    if "anyOf" in schema or "oneOf" in schema:
        return set().union(*(allowed(s) for s in schema.get("anyOf", schema.get("oneOf"))))
    if "type" in schema:
        return {schema["type"]} if isinstance(schema["type"], str) else set(schema["type"])
    return set(EVERY_TYPE)


def accepted(annotation: Any) -> set[str]:
    """The JSON types a Python annotation of the SDK takes."""
    origin = get_origin(annotation)
    if annotation is Any:
        return set(EVERY_TYPE)
    if origin in (Union, types.UnionType):
        return set().union(*(accepted(a) for a in get_args(annotation)))
    simple = {str: {"string"}, int: {"integer"}, float: {"number", "integer"}, bool: {"boolean"},
              type(None): {"null"}, dict: {"object"}, list: {"array"}}  # fmt: skip
    return simple[origin or annotation]


def _field_schema(model: type, name: str) -> dict[str, Any]:
    """The schema of what ``model.name`` reads, every step of the way required by the document."""
    schema = _resolve({"$ref": f"#/components/schemas/{SCHEMA_OF[model]}"})
    for step in READS[model].get(name, (name,)):
        assert step in schema.get("properties", {}), f"{model.__name__}.{name}: the document has no {step!r}"
        assert step in schema.get("required", []), f"{model.__name__}.{name}: the document does not promise {step!r}"
        schema = _resolve(schema["properties"][step])
    return schema


@pytest.mark.parametrize("model", list(SCHEMA_OF), ids=lambda m: m.__name__)
def test_every_sdk_field_takes_whatever_the_document_lets_the_server_send(model: type) -> None:
    hints = get_type_hints(model)
    for field in dataclasses.fields(model):
        if field.name == "raw":  # the whole JSON, kept as sent
            continue
        annotation = hints[field.name]
        schema = _field_schema(model, field.name)
        missing = allowed(schema) - accepted(annotation)
        assert not missing, f"{model.__name__}.{field.name} is {annotation} but the server may send {missing}"
        values = schema.get("additionalProperties")
        if isinstance(values, dict) and get_origin(annotation) is dict:
            value_annotation = get_args(annotation)[1]
            assert allowed(values) <= accepted(value_annotation), f"{model.__name__}.{field.name}'s values"


def test_the_sdk_reads_statuses_the_document_declares() -> None:
    statuses = set(_resolve(_field_schema(sdk.Payment, "status"))["enum"])
    assert {"initiated", "pending", "success", "failed", "cancelled"} == statuses
    paid = {"status": "success"}
    assert sdk.Payment.from_json({**_minimal_payment(), **paid}).is_paid


def _minimal_payment() -> dict[str, Any]:
    """A payment with every field the document requires of it, each of the simplest value of its type."""
    simplest = {"string": "x", "integer": 1, "number": 1, "boolean": False, "object": {}, "array": [], "null": None}
    payment = _resolve({"$ref": "#/components/schemas/Payment"})
    data: dict[str, Any] = {}
    for name in payment["required"]:
        schema = _resolve(payment["properties"][name])
        data[name] = {"code": "XOF"} if name == "currency" else simplest[sorted(allowed(schema))[0]]
    return data


def test_the_sdk_reads_the_object_the_document_describes() -> None:
    payment = sdk.Payment.from_json(_minimal_payment())
    assert (payment.currency, payment.capture, payment.is_paid) == ("XOF", None, False)
