"""The envelope every answer travels in: ``{"success", "message", "data", "errors"}``.

Bodies are serialised as JavaScript's ``JSON.stringify`` would (compact, UTF-8 unescaped, slashes as they
are), which orjson does, so a receiver that re-serialises a body gets the same bytes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from starlette.responses import Response
from starlette.types import Send


def envelope_bytes(
    message: str,
    data: Any = None,
    errors: Mapping[str, list[str]] | None = None,
    *,
    success: bool = True,
    **extra: Any,
) -> bytes:
    body: dict[str, Any] = {"success": success, "message": message, "data": data, "errors": errors}
    body.update(extra)
    return orjson.dumps(body)


class EnvelopeResponse(Response):
    media_type = "application/json"

    def __init__(
        self,
        message: str,
        data: Any = None,
        *,
        status_code: int = 200,
        errors: Mapping[str, list[str]] | None = None,
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> None:
        body = envelope_bytes(message, data, errors, success=status_code < 400, **extra)
        super().__init__(body, status_code=status_code, headers=headers)


_JSON = (b"content-type", b"application/json")


async def send_json(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    """Answer JSON bytes straight to the server, with the headers a ``RawJSONResponse`` carries (for the hot
    path, which builds no Response object)."""
    raw = [*(headers or ()), (b"content-length", str(len(body)).encode()), _JSON]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


class RawJSONResponse(Response):
    """A response whose JSON bytes were made (or stored) already: idempotent replays and the hot path."""

    media_type = "application/json"
