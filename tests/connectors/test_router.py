"""Routing's rules with connectors in memory: failover only when nothing was sent, and the circuit breakers."""

from __future__ import annotations

import httpx
import pytest

from cauri.connectors.base import ActionKind, AttemptRequest, NextAction, ProviderUnavailable, RequestRefused, Started
from cauri.connectors.router import Breakers, BreakerState, Candidate, Step, route
from cauri.connectors.sandbox import SandboxConnector
from cauri.domain.methods import CATALOGUE


class Scripted(SandboxConnector):
    """A connector whose ``start`` answers from a script: an exception to raise, or None to start."""

    def __init__(self, name: str, *answers: Exception | None) -> None:
        super().__init__(b"k", 0)
        self.name = name
        self.answers = list(answers)
        self.calls = 0

    async def start(self, request: AttemptRequest, callback_url: str) -> Started:
        self.calls += 1
        answer = self.answers.pop(0) if self.answers else None
        if answer is not None:
            raise answer
        return Started(f"ref-{self.name}", NextAction(ActionKind.CONFIRM_ON_PHONE))


def request() -> AttemptRequest:
    method = CATALOGUE.resolve_payment_method("mtn_bj")
    assert method is not None
    return AttemptRequest("att_1", "py_1", method, 100, "XOF", "2290197123456")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def run(connectors: list[Scripted], breakers: Breakers) -> tuple[list[Step], list[str]]:
    moves: list[str] = []

    async def move_to(candidate: Candidate, steps: list[Step]) -> bool:
        moves.append(candidate.connector.name)
        return True

    candidates = [Candidate(c, "stub", c.name.upper()) for c in connectors]
    routed = await route(candidates, request(), lambda name: f"http://127.0.0.1:9/{name}", breakers, move_to)
    return routed.steps, moves


def status_error(code: int) -> httpx.HTTPStatusError:
    request = httpx.Request("POST", "https://provider.example/collect")
    return httpx.HTTPStatusError(f"{code}", request=request, response=httpx.Response(code, request=request))


@pytest.mark.parametrize("error", [ProviderUnavailable("503"), httpx.ConnectError("refused"),
                                   httpx.ConnectTimeout("no connection"), status_error(503)])  # fmt: skip
async def test_nothing_sent_moves_the_attempt_to_the_next_account(error: Exception) -> None:
    a, b = Scripted("a", error), Scripted("b")
    steps, moves = await run([a, b], Breakers())
    assert [(s["account"], s["result"]) for s in steps] == [("a", "unavailable"), ("b", "started")]
    assert moves == ["b"] and (a.calls, b.calls) == (1, 1)


@pytest.mark.parametrize("error", [httpx.ReadTimeout("late"), RuntimeError("500 after sending"), TimeoutError(),
                                   status_error(500), status_error(502), status_error(504)])  # fmt: skip
async def test_an_ambiguous_answer_stops_routing(error: Exception) -> None:
    a, b = Scripted("a", error), Scripted("b")
    steps, moves = await run([a, b], Breakers())
    assert [(s["account"], s["result"]) for s in steps] == [("a", "ambiguous")]
    assert moves == [] and b.calls == 0


async def test_the_breaker_opens_after_n_failures_then_a_probe_closes_it() -> None:
    clock = Clock()
    breakers = Breakers(threshold=2, cooldown=30, clock=clock)
    a = Scripted("a", ProviderUnavailable("down"), ProviderUnavailable("down"))
    b = Scripted("b")
    for _ in range(2):
        await run([a, b], breakers)
    assert breakers.state("a") is BreakerState.OPEN
    steps, _ = await run([a, b], breakers)
    assert steps[0] == {"account": "a", "provider": "stub", "label": "A", "result": "skipped", "reason": "circuit open"}
    assert a.calls == 2
    clock.now += 31
    steps, _ = await run([a, b], breakers)  # the probe: a answers again
    assert [(s["account"], s["result"]) for s in steps] == [("a", "started")]
    assert breakers.state("a") is BreakerState.CLOSED and a.calls == 3


async def test_a_providers_refusal_of_the_request_fails_over_but_never_opens_its_breaker() -> None:
    breakers = Breakers(threshold=2, cooldown=30, clock=Clock())
    a = Scripted("a", *[RequestRefused("INVALID_PHONE_NUMBER")] * 5)
    b = Scripted("b")
    for _ in range(5):  # five customers mistype their number: a answered each time, so it stays in routing
        steps, moves = await run([a, b], breakers)
        assert [(s["account"], s["result"]) for s in steps] == [("a", "refused"), ("b", "started")]
        assert steps[0]["reason"] == "RequestRefused: INVALID_PHONE_NUMBER" and moves == ["b"]
    assert breakers.state("a") is BreakerState.CLOSED and a.calls == 5
    a.answers = [ProviderUnavailable("down")] * 2  # while an outage still opens it
    for _ in range(2):
        await run([a, b], breakers)
    assert breakers.state("a") is BreakerState.OPEN


async def test_a_refused_probe_gives_the_probe_back() -> None:
    clock = Clock()
    breakers = Breakers(threshold=1, cooldown=30, clock=clock)
    breakers.failed("a")
    clock.now += 31
    a = Scripted("a", RequestRefused("bad number"))
    steps, _ = await run([a], breakers)
    assert [s["result"] for s in steps] == ["refused"] and a.calls == 1
    assert breakers.admit("a"), "a refusal is no verdict on the account: the next attempt probes again"


async def test_a_failed_probe_opens_the_breaker_for_another_cool_down() -> None:
    clock = Clock()
    breakers = Breakers(threshold=1, cooldown=30, clock=clock)
    a = Scripted("a", ProviderUnavailable("down"), ProviderUnavailable("still down"))
    await run([a], breakers)
    clock.now += 31
    assert breakers.admit("a") and breakers.state("a") is BreakerState.HALF_OPEN
    assert not breakers.admit("a"), "one probe at a time"
    breakers.failed("a")
    assert breakers.state("a") is BreakerState.OPEN and not breakers.admit("a")
    clock.now += 29
    assert not breakers.admit("a")
    clock.now += 2
    assert breakers.admit("a")


async def test_every_breaker_open_sends_nothing() -> None:
    breakers = Breakers(threshold=1, cooldown=30, clock=Clock())
    breakers.failed("a")
    a = Scripted("a")
    steps, moves = await run([a], breakers)
    assert [s["result"] for s in steps] == ["skipped"] and a.calls == 0 and moves == []


async def test_a_cancelled_customer_stops_routing() -> None:
    a, b = Scripted("a", ProviderUnavailable("down")), Scripted("b")

    async def refused(candidate: Candidate, steps: list[Step]) -> bool:
        return False  # the attempt ended meanwhile

    clock = Clock()
    breakers = Breakers(threshold=1, cooldown=30, clock=clock)
    breakers.failed("b")
    clock.now += 31  # b's breaker may be probed: routing takes the probe, then finds the attempt over
    candidates = [Candidate(a, "stub"), Candidate(b, "stub")]
    routed = await route(candidates, request(), lambda name: "http://127.0.0.1:9/", breakers, refused)
    assert b.calls == 0 and routed.started is None
    assert breakers.admit("b"), "the probe not sent is given back"
