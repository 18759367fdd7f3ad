"""The rates feed job against a feed on loopback: its rates stored exactly as source ``feed``, fetched only when
due, bounded in size, a bad answer refused whole, and the operator's fresh rate still winning."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncEngine

from cauri.domain.rates import FEED_MAX_BYTES, RateSource
from cauri.services.rates import find_fresh_rate, list_rates, set_rate
from cauri.settings import Settings
from cauri.store.tables import rates
from cauri.workers.jobs import background_tasks, refresh_rates
from tests.conftest import runtime_of, uow

DAY = timedelta(hours=24)


class Feed:
    """What the feed answers next, and how many times it was asked."""

    def __init__(self) -> None:
        self.status = 200
        self.body = b'{"base": "USD", "rates": {"NGN": "1550.25", "GHS": 15.4, "ZZZ": "9", "EUR": 0.92}}'
        self.requests = 0


@pytest.fixture
def feed() -> Iterator[tuple[str, Feed]]:
    state = Feed()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.requests += 1
            self.send_response(state.status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()  # no length: the job must bound what it reads itself
            self.wfile.write(state.body)

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/rates.json", state
    server.shutdown()


@pytest.fixture
async def no_rates(engine: AsyncEngine) -> AsyncIterator[AsyncEngine]:
    async with engine.begin() as conn:
        await conn.execute(delete(rates))
    yield engine
    async with engine.begin() as conn:
        await conn.execute(delete(rates))


def configured(settings: Settings, url: str) -> Settings:
    return settings.model_copy(update={"rates_feed_url": url, "rates_feed_every_seconds": 3600.0})


async def feed_rates(engine: AsyncEngine) -> dict[tuple[str, str], Decimal]:
    listed = await list_rates(uow(engine), DAY)
    return {(r.rate.base, r.rate.quote): r.rate.rate for r in listed if r.rate.source is RateSource.FEED}


async def test_the_feeds_rates_are_stored_exactly_and_fetched_again_only_when_due(
    settings: Settings, engine: AsyncEngine, no_rates: AsyncEngine, feed: tuple[str, Feed]
) -> None:
    url, state = feed
    runtime = runtime_of(configured(settings, url), engine)
    await refresh_rates(runtime)
    assert await feed_rates(engine) == {
        ("USD", "NGN"): Decimal("1550.25"), ("USD", "GHS"): Decimal("15.4"), ("USD", "EUR"): Decimal("0.92"),
    }  # fmt: skip
    found = await find_fresh_rate(uow(engine), "USD", "NGN", DAY)
    assert found is not None and found.source is RateSource.FEED
    await refresh_rates(runtime)
    assert state.requests == 1  # the stored feed rates are younger than the interval
    due = runtime_of(settings.model_copy(update={"rates_feed_url": url, "rates_feed_every_seconds": 0.001}), engine)
    state.body = b'{"base": "USD", "rates": {"NGN": 1600}}'
    await refresh_rates(due)
    assert state.requests == 2
    assert (await feed_rates(engine))[("USD", "NGN")] == Decimal(1600)


async def test_the_operators_fresh_rate_wins_over_the_feeds(
    settings: Settings, engine: AsyncEngine, no_rates: AsyncEngine, feed: tuple[str, Feed]
) -> None:
    url, _state = feed
    await set_rate(uow(engine), "USD", "NGN", "1500")
    await refresh_rates(runtime_of(configured(settings, url), engine))
    found = await find_fresh_rate(uow(engine), "USD", "NGN", DAY)
    assert found is not None and (found.source, found.rate) == (RateSource.OPERATOR, Decimal(1500))


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (200, b'{"base": "USD", "rates": {"NGN": "1550.25", "GHS": "-1"}}'),  # one bad rate refuses them all
        (200, b"not json"),
        (200, b'{"base": "USD", "rates": {"NGN": "' + b"1" * FEED_MAX_BYTES + b'"}}'),  # too large to read
        (500, b'{"base": "USD", "rates": {"NGN": "1550.25"}}'),
        (200, b'["USD", "NGN"]'),
    ],
)
async def test_a_bad_answer_stores_nothing(
    settings: Settings, engine: AsyncEngine, no_rates: AsyncEngine, feed: tuple[str, Feed], status: int, body: bytes
) -> None:
    url, state = feed
    state.status, state.body = status, body
    await refresh_rates(runtime_of(configured(settings, url), engine))
    assert state.requests == 1
    assert await feed_rates(engine) == {}


def test_the_job_runs_only_with_a_feed_configured(settings: Settings, engine: AsyncEngine) -> None:
    without = len(background_tasks(runtime_of(settings, engine), dispatch=False))
    with_feed = len(background_tasks(runtime_of(configured(settings, "http://127.0.0.1:9/"), engine), dispatch=False))
    assert with_feed == without + 1
