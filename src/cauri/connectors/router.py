"""Routing one attempt across a merchant's provider accounts: failover, and a circuit breaker per account.

An attempt goes to the first account (in routing order) whose breaker lets it through. When starting there fails
before anything could have reached the provider (``ProviderUnavailable``, a refused or timed-out connection, a
503: see ``nothing_sent``), the attempt moves to the next account. Any other error is ambiguous (the provider
may have taken the request, and the customer's money with it): routing stops there and the attempt stays
pending with that account, for the reconciliation job to ask about. Trying another account then could collect
twice. Both kinds of failure count toward the account's breaker, but for a provider's refusal of the request
itself (``RequestRefused``: a number it does not know), which proves it is up; a start that succeeds closes it.

The breakers live in this process's memory: each server process keeps its own, and a restart closes them all.
That is enough for their purpose (stop sending customers to an account that keeps failing, and let it back
after a cool-down), and costs no database write on the hot path.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import httpx

from cauri.connectors.base import AttemptRequest, Connector, ProviderUnavailable, RequestRefused, Started

log = logging.getLogger("cauri.routing")

#: Errors raised before a byte of the request reached the provider: safe to try elsewhere.
NOTHING_SENT: tuple[type[BaseException], ...] = (ProviderUnavailable, httpx.ConnectError, httpx.ConnectTimeout)


def nothing_sent(exc: BaseException) -> bool:
    """Whether ``exc`` proves the provider did not take the request: the connector said so
    (``ProviderUnavailable``), the connection never opened, or the provider answered 503 (it refused to handle
    it). Any other 5xx or a timeout waiting for the answer may follow a request the provider recorded: only the
    connector, knowing its provider (an idempotent reference it can look up, say), may turn those into
    ``ProviderUnavailable``."""
    if isinstance(exc, NOTHING_SENT):
        return True
    return isinstance(exc, httpx.HTTPStatusError) and exc.response.status_code == 503


class BreakerState(StrEnum):
    CLOSED = "closed"  # requests go through
    OPEN = "open"  # skipped until the cool-down has passed
    HALF_OPEN = "half_open"  # one probe is under way; the others are skipped until it answers


@dataclass
class _Breaker:
    failures: int = 0
    opened_at: float | None = None
    probing: bool = False


@dataclass
class Breakers:
    """A circuit breaker per connector name: opened after ``threshold`` consecutive failures; after ``cooldown``
    seconds one attempt goes through as a probe (half-open); its success closes the breaker, its failure opens
    it again for another cool-down."""

    threshold: int = 3
    cooldown: float = 30.0
    clock: Callable[[], float] = time.monotonic
    _by_name: dict[str, _Breaker] = field(default_factory=dict)

    def state(self, name: str) -> BreakerState:
        breaker = self._by_name.get(name)
        if breaker is None or breaker.opened_at is None:
            return BreakerState.CLOSED
        return BreakerState.HALF_OPEN if breaker.probing else BreakerState.OPEN

    def admit(self, name: str) -> bool:
        """Whether an attempt may go to ``name`` now (taking the probe when the cool-down has passed)."""
        breaker = self._by_name.get(name)
        if breaker is None or breaker.opened_at is None:
            return True
        if breaker.probing or self.clock() - breaker.opened_at < self.cooldown:
            return False
        breaker.probing = True
        return True

    def succeeded(self, name: str) -> None:
        self._by_name.pop(name, None)

    def failed(self, name: str) -> None:
        breaker = self._by_name.setdefault(name, _Breaker())
        breaker.failures += 1
        if breaker.probing or breaker.failures >= self.threshold:
            if breaker.opened_at is None or breaker.probing:
                log.warning("circuit opened", extra={"connector": name, "failures": breaker.failures})
            breaker.opened_at = self.clock()
            breaker.probing = False

    def failed_with(self, name: str, exc: BaseException) -> None:
        """A start (or payout) at ``name`` raised ``exc``: a failure of the account, unless the provider answered
        and refused the request itself, which says it is up (and ends a probe without a verdict)."""
        if isinstance(exc, RequestRefused):
            self.released(name)
        else:
            self.failed(name)

    def released(self, name: str) -> None:
        """A probe ended with no verdict (the request was cancelled): the next attempt may probe again."""
        breaker = self._by_name.get(name)
        if breaker is not None:
            breaker.probing = False


@dataclass(frozen=True, slots=True)
class Candidate:
    """A connector routing may try, with what the attempt's record says of it."""

    connector: Connector
    provider: str
    label: str | None = None


class StepResult(StrEnum):
    SKIPPED = "skipped"  # its breaker is open
    UNAVAILABLE = "unavailable"  # nothing was sent: routing moved on
    REFUSED = "refused"  # the provider refused the request (nothing taken): routing moved on
    AMBIGUOUS = "ambiguous"  # the provider may have the attempt: left pending for reconciliation
    STARTED = "started"


#: One line of an attempt's routing record: ``account``, ``provider``, ``label``, ``result``, ``reason``.
Step = dict[str, str | None]


@dataclass
class Routed:
    steps: list[Step]
    #: The candidate holding the attempt: the one that started it or left it ambiguous, else the last tried
    #: (or the first, when every breaker was open).
    holder: Candidate
    started: Started | None = None

    @property
    def ambiguous(self) -> bool:
        return bool(self.steps) and self.steps[-1]["result"] == StepResult.AMBIGUOUS


#: Moves the attempt to a candidate before its ``start`` is called, recording the steps so far (so that the
#: provider's notification, which may come before ``start`` returns, finds the attempt its own). False when the
#: attempt is no longer pending (the customer cancelled meanwhile): routing stops, nothing more is sent.
MoveTo = Callable[[Candidate, list[Step]], Awaitable[bool]]


async def route(
    candidates: Sequence[Candidate],
    request: AttemptRequest,
    callback_url: Callable[[str], str],
    breakers: Breakers,
    move_to: MoveTo,
) -> Routed:
    """Start ``request`` at the first candidate that takes it (see the module's docstring)."""
    assert candidates, "routing needs at least one candidate"
    steps: list[Step] = []
    holder: Candidate | None = None
    for candidate in candidates:
        name = candidate.connector.name
        if not breakers.admit(name):
            steps.append(_step(candidate, StepResult.SKIPPED, "circuit open"))
            continue
        if (holder is not None or steps) and not await move_to(candidate, steps):
            breakers.released(name)  # a probe it may have taken was never sent
            return Routed(steps, holder or candidate)
        holder = candidate
        verdict = False
        try:
            started = await candidate.connector.start(request, callback_url(name))
        except Exception as exc:
            breakers.failed_with(name, exc)
            verdict = True
            if nothing_sent(exc):
                log.warning("provider unavailable; trying the next account",
                            extra={"attempt_id": request.attempt_id, "connector": name})  # fmt: skip
                refused = isinstance(exc, RequestRefused)
                steps.append(_step(candidate, StepResult.REFUSED if refused else StepResult.UNAVAILABLE, _reason(exc)))
                continue
            log.exception("connector start failed; left to reconciliation",
                          extra={"attempt_id": request.attempt_id, "connector": name})  # fmt: skip
            steps.append(_step(candidate, StepResult.AMBIGUOUS, _reason(exc)))
            return Routed(steps, candidate)
        finally:
            if not verdict:
                breakers.released(name)  # cancelled (or succeeded: the success below closes it anyway)
        breakers.succeeded(name)
        steps.append(_step(candidate, StepResult.STARTED, None))
        return Routed(steps, candidate, started)
    return Routed(steps, holder or candidates[0])


def _step(candidate: Candidate, result: StepResult, reason: str | None) -> Step:
    return {
        "account": candidate.connector.name,
        "provider": candidate.provider,
        "label": candidate.label,
        "result": result.value,
        "reason": reason,
    }


def _reason(exc: BaseException) -> str:
    """What the record says of a failure: its kind and its first line, short (a connector's messages never
    carry credentials; a provider's answer is cut, not stored whole)."""
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}"[:200] if text else type(exc).__name__
