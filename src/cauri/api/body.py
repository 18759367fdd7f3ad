"""Reading request bodies: size-limited, JSON whatever the content type says."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from starlette.requests import ClientDisconnect, Request

from cauri.api.context import gateway_of
from cauri.api.errors import ApiError


async def read_body(request: Request, limit: int, within: float | None = None) -> bytes:
    """The raw body, refused with 413 as soon as it passes ``limit`` bytes (declared or streamed), and with 408
    when it takes longer than ``within`` seconds (by default the settings' ``body_timeout_seconds``) to arrive (a slow
    upload holds a connection and its memory open)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, f"The request body is larger than the {limit} bytes allowed.")
    if within is None:
        within = gateway_of(request).settings.body_timeout_seconds
    # The server's messages read directly, not through ``request.stream()`` (an async generator per request,
    # on the hot path): no handler reads a body twice.
    receive = request.receive
    chunks: list[bytes] = []
    size = 0
    # The deadline is one timer that cancels this task, not ``asyncio.timeout`` (whose context manager cost
    # initialize ~2 % of its time); ``expired`` tells its cancellation from any other, and the task's count of
    # cancellations is left as it was found, as ``asyncio.timeout`` leaves it.
    task = asyncio.current_task()
    if task is None:
        raise RuntimeError("read_body must run in a task")
    before = task.cancelling()
    expired: list[bool] = []
    timer = asyncio.get_running_loop().call_later(within, _expire, task, expired)
    try:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ClientDisconnect()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise ApiError(413, f"The request body is larger than the {limit} bytes allowed.")
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
    except asyncio.CancelledError as exc:
        if expired:
            expired.clear()
            if task.uncancel() <= before:  # the deadline's cancellation alone: answer it
                raise ApiError(408, "The request body took too long to arrive.", {"Connection": "close"}) from exc
        raise
    finally:
        timer.cancel()
        if expired:  # it fired, but what ``receive`` made of its cancellation was not one
            task.uncancel()
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _expire(task: asyncio.Task[object], expired: list[bool]) -> None:
    expired.append(True)
    task.cancel()


def parse_json_object(raw: bytes) -> dict[str, Any]:
    """Parse a JSON object body; an empty body is an empty object (so every missing field is reported)."""
    if not raw.strip():
        return {}
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, f"The request body is not valid JSON: {exc}.") from exc
    if not isinstance(value, dict):
        raise ApiError(400, "The request body must be a JSON object.")
    return value
