"""``cauri rates set`` and ``cauri rates list``, run in their own process on a fresh data directory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.test_cli import cauri


@pytest.fixture
def env(env_without_cauri: dict[str, str], tmp_path: Path) -> dict[str, str]:
    return {**env_without_cauri, "CAURI_DATA_DIR": str(tmp_path / "data"), "CAURI_LOG_LEVEL": "warning"}


def test_a_rate_set_is_listed_with_the_pegs(env: dict[str, str]) -> None:
    saved = cauri("rates", "set", "usd", "NGN", "1550.25", env=env)
    assert saved.returncode == 0, saved.stderr
    assert saved.stdout.startswith("1 USD = 1550.25 NGN")
    listed = json.loads(cauri("rates", "list", "--json", env=env).stdout)
    assert [(r["base"], r["quote"], r["rate"], r["source"], r["fresh"]) for r in listed] == [
        ("EUR", "XAF", "655.957", "peg", True),
        ("EUR", "XOF", "655.957", "peg", True),
        ("USD", "NGN", "1550.25", "operator", True),
    ]
    assert listed[0]["set_at"] is None and listed[2]["set_at"].endswith("Z")
    table = cauri("rates", "list", env={**env, "COLUMNS": "200"})
    assert table.returncode == 0 and "1550.25" in table.stdout and "operator" in table.stdout


def test_a_rate_older_than_the_maximum_age_is_listed_as_not_used(env: dict[str, str]) -> None:
    assert cauri("rates", "set", "USD", "NGN", "1550.25", env=env).returncode == 0
    aged = {**env, "CAURI_RATE_MAX_AGE_HOURS": "0.000001"}
    listed = json.loads(cauri("rates", "list", "--json", env=aged).stdout)
    assert [r["fresh"] for r in listed if r["source"] == "operator"] == [False]
    table = cauri("rates", "list", env={**aged, "COLUMNS": "200"})
    assert "too old" in table.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("USD", "ZZZ", "1550"), "quote currency is not a currency"),
        (("[bold]", "NGN", "1550"), "base currency is not a currency"),
        (("--", "USD", "NGN", "-3"), "The rate must be a positive decimal"),  # "--": else -3 reads as an option
        (("USD", "NGN", "inf"), "The rate must be a positive decimal"),
        (("USD", "NGN", "0"), "The rate must be greater than 0"),
        (("EUR", "XOF", "650"), "pegged by law"),
    ],
)
def test_a_bad_rate_is_refused_and_nothing_is_stored(env: dict[str, str], args: tuple[str, ...], message: str) -> None:
    refused = cauri("rates", "set", *args, env=env)
    assert refused.returncode == 1
    assert message in refused.stderr
    listed = json.loads(cauri("rates", "list", "--json", env=env).stdout)
    assert {r["source"] for r in listed} == {"peg"}


def test_an_apps_correction_margin_is_set_in_percent(env: dict[str, str]) -> None:
    created = cauri("apps", "create", "Shop", "--json", env=env)
    assert created.returncode == 0, created.stderr
    app_id = json.loads(created.stdout)["id"]
    done = cauri("apps", "margin", app_id, "2.5", env=env)
    assert done.returncode == 0, done.stderr
    assert "correction margin 2.5 %" in done.stdout
    assert [a["margin_percent"] for a in json.loads(cauri("apps", "list", "--json", env=env).stdout)] == ["2.5"]
    for bad in ("51", "abc", "1.23456"):
        refused = cauri("apps", "margin", "Shop", bad, env=env)
        assert refused.returncode == 1 and "The margin must be a percentage from 0 to 50" in refused.stderr
    assert "correction margin 0 %" in cauri("apps", "margin", "Shop", "0", env=env).stdout
