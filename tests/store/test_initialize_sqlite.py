"""The SQLite hot path converts values with its own plain functions (``store/initialize_sqlite.py``): they must
give what the engine's SQLAlchemy type processors give, or rows written by the two would read back apart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy.engine import Dialect

from cauri.settings import Settings
from cauri.store.engine import create_engine
from cauri.store.initialize_sqlite import _PAYMENT_COLUMNS, PAYMENT_CONVERTERS, _json, stamp
from cauri.store.tables import events, idempotency_keys, payments

MOMENTS = [
    datetime(2026, 12, 7, 11, 35, 49, 862580, tzinfo=UTC),
    datetime(2026, 12, 7, 11, 35, 49, tzinfo=UTC),  # no microseconds: still six digits
    datetime(2026, 12, 7, 11, 35, 49, 5, tzinfo=timezone(timedelta(hours=-3))),  # the wall time, as stored
    datetime(999, 1, 2, 3, 4, 5, 6, tzinfo=UTC),  # a year of three digits, padded
    datetime(2026, 1, 1, 0, 0, 0, 1),  # naive
]
VALUES: dict[str, list[Any]] = {
    "customer": [{"id": "cus_1", "first_name": "Awa", "email": "awa@example.com", "phone": None}, {}],
    "metadata": [{"order_id": "123", "note": 'é ✓ "quoted" </script>'}, {}],
    "methods": [None, ["mtn_bj", "moov_bj"]],
    "restricted_phone": [None, {"number": "+22997000000", "country_code": "BJ"}],
    "is_processed": [False, True, None],
    "processed_at": [None, *MOMENTS],
    "initiated_at": MOMENTS,
}


@pytest.fixture(scope="module")
def dialect(tmp_path_factory: pytest.TempPathFactory) -> Dialect:
    """The dialect of the engine ``cauri serve`` makes for the embedded store (its JSON serializer included)."""
    return create_engine(Settings(data_dir=tmp_path_factory.mktemp("data"))).dialect


def processor(dialect: Dialect, column: Any) -> Any:
    return column.type.dialect_impl(dialect).bind_processor(dialect)


def test_every_payment_column_is_converted_as_the_engine_converts_it(dialect: Dialect) -> None:
    checked = 0
    for name, convert in zip(_PAYMENT_COLUMNS, PAYMENT_CONVERTERS, strict=True):
        engine_processor = processor(dialect, payments.c[name])
        assert (convert is None) == (engine_processor is None), name
        for value in VALUES.get(name, []) if convert else []:
            assert convert(value) == engine_processor(value), (name, value)
            checked += 1
    assert checked >= 20


def test_timestamps_are_stored_as_the_engine_stores_them(dialect: Dialect) -> None:
    for column in (payments.c.created_at, events.c.created_at, idempotency_keys.c.expires_at):
        engine_processor = processor(dialect, column)
        for moment in MOMENTS:
            assert stamp(moment) == engine_processor(moment)
    assert stamp(MOMENTS[1]) == "2026-12-07 11:35:49.000000"


def test_an_event_s_data_is_stored_as_the_engine_stores_it(dialect: Dialect) -> None:
    data = {"id": "py_1", "amount": 2500, "metadata": {"note": "é ✓ </script>"}, "capture": None, "refunds": []}
    assert _json(data) == processor(dialect, events.c.data)(data)
