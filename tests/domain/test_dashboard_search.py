"""The dashboard's search form, its cursor and its CSV cells."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cauri.domain.dashboard import csv_cell, decode_cursor, encode_cursor, parse_search
from cauri.domain.errors import ValidationFailed


def test_a_search_reads_every_filter() -> None:
    search = parse_search({"env": "live", "status": "success", "from": "2026-01-01", "to": "2026-01-31",
                           "method": "mtn_bj", "amount_min": "100", "amount_max": "5000",
                           "email": "Awa@Example.com", "meta": "order_id = 42"})  # fmt: skip
    assert search.environment == "live" and search.statuses == ("success",)
    assert search.created_from == datetime(2026, 1, 1, tzinfo=UTC)
    assert search.created_to == datetime(2026, 2, 1, tzinfo=UTC)  # the last day is included
    assert (search.method, search.amount_min, search.amount_max) == ("mtn_bj", 100, 5000)
    assert search.customer_email == "awa@example.com" and search.metadata == (("order_id", "42"),)


@pytest.mark.parametrize(
    ("name", "value"),
    [("env", "prod"), ("status", "paid"), ("from", "yesterday"), ("method", "nope"), ("amount_min", "1.5"),
     ("amount_max", "-3"), ("meta", "no-equals"), ("email", "a\x00b"), ("amount_min", "9" * 30)],
)  # fmt: skip
def test_a_bad_filter_is_refused_by_name(name: str, value: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse_search({name: value})
    assert caught.value.errors is not None and name in caught.value.errors.by_field


def test_a_cursor_round_trips_and_a_forged_one_is_ignored() -> None:
    at = datetime(2026, 3, 4, 5, 6, 7, 890123, tzinfo=UTC)
    assert decode_cursor(encode_cursor(at, "py_abc123")) == (at, "py_abc123")
    for forged in ("", "!!!", "x" * 500, encode_cursor(at, "py_abc123")[:-3], "MjAyNnxweV8"):
        assert decode_cursor(forged) is None


def test_cells_a_spreadsheet_would_run_are_shown_as_text() -> None:
    for formula in ('=HYPERLINK("http://x")', "+1+1", "-2", "@SUM(A1)", "\t=1"):
        assert csv_cell(formula) == "'" + formula
    assert csv_cell("awa@example.com") == "awa@example.com" and csv_cell(None) == "" and csv_cell(5000) == "5000"
