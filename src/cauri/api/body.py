"""Reading request bodies: size-limited, JSON whatever the content type says."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request

from cauri.api.errors import ApiError


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, refused with 413 as soon as it passes ``limit`` bytes (declared or streamed)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, f"The request body is larger than the {limit} bytes allowed.")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, f"The request body is larger than the {limit} bytes allowed.")
        chunks.append(chunk)
    return b"".join(chunks)


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
