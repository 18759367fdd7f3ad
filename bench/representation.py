"""What typing the payment object costs on the hot path: build and serialise N verify answers (a paid payment
with its capture), each way, in one run; figures are ratios to the way Cauri does it.

    .venv/bin/python bench/representation.py [--count 20000] [--rounds 5]

The ways: the ``TypedDict`` builders of ``cauri.domain.representation`` (plain dicts) serialised by orjson
or msgspec; the same dicts validated by pydantic before serialising, or serialised by pydantic; pydantic
models and msgspec structs of the same shape (derived from the same TypedDicts, so nothing is left out),
filled from the dicts. msgspec is optional (``pip install msgspec``); its rows are skipped without it.

Figures (2-core shared machine, 2026-11-24, ``--count 20000``, best of 5 interleaved rounds):

    | build + serialise                                           | µs each | time / Cauri's |
    | TypedDict builders + orjson (Cauri)                         |    21.9 |           1.00 |
    | TypedDict builders, validated by pydantic, + orjson         |    32.0 |           1.46 |
    | TypedDict builders, serialised by pydantic                  |    27.2 |           1.24 |
    | pydantic BaseModel filled from the dict, model_dump_json    |    50.7 |           2.31 |
    | TypedDict builders + msgspec.json                           |    22.4 |           1.02 |
    | msgspec Struct filled from the dict (convert), msgspec.json |    27.7 |           1.26 |
    | serialise only: dict + orjson 1.7 µs (1.00); BaseModel.model_dump_json 4.98; dict + msgspec 1.61;
    |                 Struct + msgspec 1.21                                                        |

Three runs on this noisy machine gave, for build + serialise: pydantic validation 1.00-1.46, serialising
through pydantic 0.88-1.24, BaseModel 1.44-2.31, dicts through msgspec 0.71-1.02, Structs 1.08-1.26; for
serialising alone: model_dump_json 4.9-5.3x orjson, Struct + msgspec 1.2-2.4x, dict + msgspec 1.6-1.8x.

The decision: TypedDicts. Building the object (timestamps, amounts, the nested currency) is most of the
cost and every way pays it; on top, a BaseModel roughly doubles it and validating each answer adds up to
half again, while msgspec Structs built directly would at best match plain dicts (msgspec's encoder is not
faster than orjson on these objects). TypedDicts give mypy-checked builders and the document's schemas for
nothing at run time.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, get_args, get_origin, get_type_hints

import orjson
from pydantic import BaseModel, TypeAdapter, create_model
from typing_extensions import is_typeddict  # typing's misses typing_extensions' TypedDicts before 3.12

from cauri.api.envelope import envelope_bytes
from cauri.domain import representation
from cauri.domain.clock import iso

try:
    import msgspec
except ImportError:  # optional: only this benchmark uses it
    msgspec = None


class App:
    """A stand-in for the stored app (what ``app_object`` reads)."""

    id = "app_7pkq3v1xk2"
    name = "Boutique Awa"
    website_url = "https://boutique.example"
    icon_url = None
    is_enabled = True
    created_at = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
    updated_at = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)


APP = App()  # one value, as the key cache hands out: app_object's cache hits, as in the server
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
PAYMENT: dict[str, Any] = {
    "id": "py_k4su1ii7abdzq2xw", "status": "success", "is_processed": False, "processed_at": None,
    "amount": 15000, "currency": "XOF", "description": "Order #1234", "return_url": "https://shop.example/r",
    "environment": "sandbox", "initiated_at": NOW, "created_at": NOW, "updated_at": NOW,
    "metadata": {"order_id": "1234", "cart": "c_99"},
    "customer": {"id": "cus_1", "first_name": "Awa", "last_name": "Dossou", "email": "awa@example.com",
                 "phone": "+22997000000", "address": None, "city": "Cotonou", "state": None, "country_code": "BJ",
                 "zip_code": None},
}  # fmt: skip
ATTEMPT: dict[str, Any] = {
    "id": "att_k4su1ii7abdzq2xw", "method": "mtn_bj", "connector": "sandbox", "status": "success",
    "phone": "4149518161", "provider_reference": "sbx_k4su1ii7abdzq2xw", "next_action": {"kind": "confirm_on_phone"},
    "failure_code": None, "failure_message": None, "client_ip": "127.0.0.1", "user_agent": "Mozilla/5.0",
    "locale": "fr", "created_at": NOW, "completed_at": NOW,
}  # fmt: skip


def build() -> representation.Payment:
    """What verify does per payment: the app (cached), the capture, the payment object."""
    return representation.payment_object(
        PAYMENT,
        representation.app_object(APP, iso),  # type: ignore[arg-type]
        checkout_url="http://127.0.0.1:8000/checkout/py_k4su1ii7abdzq2xw",
        iso=iso,
        capture=representation.capture_object(ATTEMPT, PAYMENT, iso),
    )


def _derived(typed: Any, make: Callable[[str, dict[str, Any]], Any], made: dict[str, Any]) -> Any:
    """``typed`` with every TypedDict in it replaced by a class ``make`` derives from its fields."""
    if is_typeddict(typed):
        if typed.__name__ not in made:
            hints = get_type_hints(typed, include_extras=True)
            made[typed.__name__] = make(typed.__name__, {k: _derived(v, make, made) for k, v in hints.items()})
        return made[typed.__name__]
    args = get_args(typed)
    origin = get_origin(typed)
    if not args or origin is None:
        return typed
    if origin.__name__ == "Annotated":
        return _derived(args[0], make, made)
    derived = tuple(_derived(a, make, made) for a in args)
    return origin[derived] if origin.__name__ != "UnionType" else _union(derived)


def _union(members: tuple[Any, ...]) -> Any:
    union = members[0]
    for member in members[1:]:
        union = union | member
    return union


def pydantic_model() -> type[BaseModel]:
    model: type[BaseModel] = _derived(
        representation.Payment,
        lambda name, fields: create_model(name, **{k: (v, ...) for k, v in fields.items()}),  # type: ignore[call-overload]
        {},
    )
    return model


def msgspec_struct() -> Any:
    assert msgspec is not None
    return _derived(representation.Payment, lambda name, fields: msgspec.defstruct(name, list(fields.items())), {})


def ways() -> dict[str, Callable[[], bytes]]:
    adapter = TypeAdapter(representation.Payment)
    model = pydantic_model()
    found: dict[str, Callable[[], bytes]] = {
        "TypedDict builders + orjson (Cauri)": lambda: envelope_bytes("fetched", build()),
        "TypedDict builders, validated by pydantic, + orjson": lambda: envelope_bytes(
            "fetched", adapter.validate_python(build())
        ),
        # Statuses are stored strings typed as their StrEnum: equal values, so pydantic's warning is moot.
        "TypedDict builders, serialised by pydantic": lambda: adapter.dump_json(build(), warnings=False),
        "pydantic BaseModel filled from the dict, model_dump_json": lambda: model.model_validate(
            build()
        ).model_dump_json(),
    }
    if msgspec is not None:
        struct = msgspec_struct()
        encoder = msgspec.json.Encoder()
        found["TypedDict builders + msgspec.json"] = lambda: encoder.encode(
            {"success": True, "message": "fetched", "data": build(), "errors": None}
        )
        found["msgspec Struct filled from the dict (convert), msgspec.json"] = lambda: encoder.encode(
            msgspec.convert(build(), struct)
        )
    return found


def serialise_only() -> dict[str, Callable[[], bytes]]:
    """The serialisers alone, on an object already built in each form."""
    data = build()
    model = pydantic_model().model_validate(data)
    found: dict[str, Callable[[], bytes]] = {
        "dict, orjson (Cauri)": lambda: orjson.dumps(data),
        "pydantic BaseModel, model_dump_json": model.model_dump_json,  # type: ignore[dict-item]
    }
    if msgspec is not None:
        struct = msgspec.convert(data, msgspec_struct())
        encoder = msgspec.json.Encoder()
        found["dict, msgspec.json"] = lambda: encoder.encode(data)
        found["msgspec Struct, msgspec.json"] = lambda: encoder.encode(struct)
    return found


def timed(candidates: dict[str, Callable[[], bytes]], count: int, rounds: int) -> dict[str, float]:
    """Seconds for ``count`` calls of each, the best of ``rounds`` rounds taken in turn (so a noisy moment on
    this shared machine hits every way alike rather than one)."""
    best = dict.fromkeys(candidates, float("inf"))
    for _ in range(rounds):
        for name, work in candidates.items():
            start = time.perf_counter()
            for _ in range(count):
                work()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def table(title: str, candidates: dict[str, Callable[[], bytes]], count: int, rounds: int) -> None:
    figures = timed(candidates, count, rounds)
    baseline = next(iter(figures.values()))
    print(f"\n| {title} | µs each | time / Cauri's |\n|---|---|---|")
    for name, seconds in figures.items():
        print(f"| {name} | {seconds / count * 1e6:.1f} | {seconds / baseline:.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=20000, help="answers per round")
    parser.add_argument("--rounds", type=int, default=5)
    arguments = parser.parse_args()
    count, rounds = arguments.count, arguments.rounds
    answers = [orjson.loads(work()) for work in ways().values()]
    payments = [answer.get("data", answer) for answer in answers]
    assert all(p == payments[0] for p in payments), "the ways disagree"  # every way says the same thing
    print(f"{count} verify answers (a paid payment with its capture), best of {rounds} rounds"
          + ("" if msgspec else "; msgspec not installed, its rows skipped"))  # fmt: skip
    table("build + serialise", ways(), count, rounds)
    table("serialise only", serialise_only(), count, rounds)


if __name__ == "__main__":
    main()
