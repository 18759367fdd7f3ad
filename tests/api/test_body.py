"""``read_body``'s deadline: its own expiry answers 408; a cancellation from elsewhere (a server shutting down,
a client gone) stays a cancellation, even when it comes while the deadline runs."""

from __future__ import annotations

import asyncio

import pytest
from starlette.requests import ClientDisconnect, Request
from starlette.types import Message

from cauri.api import body
from cauri.api.body import read_body
from cauri.api.errors import ApiError


def _request(receive_forever: asyncio.Event) -> Request:
    async def receive() -> Message:
        await receive_forever.wait()
        return {"type": "http.request", "body": b"{}", "more_body": False}

    return Request({"type": "http", "method": "POST", "path": "/", "headers": []}, receive)


async def test_the_deadline_answers_408_and_leaves_the_task_uncancelled() -> None:
    task = asyncio.create_task(read_body(_request(asyncio.Event()), 1000, 0.05))
    with pytest.raises(ApiError) as caught:
        await task
    assert caught.value.status == 408
    assert task.cancelling() == 0


async def test_a_cancellation_from_elsewhere_is_not_taken_for_the_deadline() -> None:
    task = asyncio.create_task(read_body(_request(asyncio.Event()), 1000, 30))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_a_cancellation_that_comes_with_the_deadline_stays_a_cancellation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    expire = body._expire

    def and_elsewhere(task: asyncio.Task[object], expired: list[bool]) -> None:
        expire(task, expired)
        task.cancel()  # a shutdown, say, in the same turn of the loop

    monkeypatch.setattr(body, "_expire", and_elsewhere)
    task = asyncio.create_task(read_body(_request(asyncio.Event()), 1000, 0.05))
    with pytest.raises(asyncio.CancelledError):
        await task
    assert task.cancelling() == 1  # the other's, still counted; the deadline's taken back


async def test_a_deadline_whose_cancellation_the_server_turned_into_a_disconnect_is_taken_back() -> None:
    async def receive() -> Message:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            return {"type": "http.disconnect"}  # a receive that swallows the cancellation
        raise AssertionError("unreachable")

    request = Request({"type": "http", "method": "POST", "path": "/", "headers": []}, receive)
    task = asyncio.create_task(read_body(request, 1000, 0.05))
    with pytest.raises(ClientDisconnect):
        await task
    assert task.cancelling() == 0


async def test_a_body_in_time_is_read_and_its_timer_is_gone() -> None:
    arrived = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.call_later(0.01, arrived.set)
    assert await read_body(_request(arrived), 1000, 0.2) == b"{}"
    await asyncio.sleep(0.3)  # past the deadline: a timer left behind would cancel this test's task
