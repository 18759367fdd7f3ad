"""Reading a provider's answer with a size bound: an answer is a few KB, and a misbehaving or hijacked host
must not make the gateway hold an unbounded body (or its decompression) in memory."""

from __future__ import annotations

from typing import Any

import httpx

#: Far above any documented answer (a status, a list of public keys, a search page).
MAX_ANSWER_BYTES = 1_048_576


class AnswerTooLarge(httpx.HTTPError):
    """The provider's answer passed ``MAX_ANSWER_BYTES``: it was sent something, so the outcome is unknown."""


async def bounded_request(
    client: httpx.AsyncClient, method: str, url: str, *, limit: int = MAX_ANSWER_BYTES, **kwargs: Any
) -> httpx.Response:
    """``client.request`` whose body is read (decoded) up to ``limit`` bytes; ``AnswerTooLarge`` beyond."""
    async with client.stream(method, url, **kwargs) as response:
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise AnswerTooLarge(f"{method} answer of {declared} bytes")
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > limit:
                raise AnswerTooLarge(f"{method} answer over {limit} bytes")
            chunks.append(chunk)
    # The body is decoded already: the new response must not decode it again.
    headers = [(k, v) for k, v in response.headers.multi_items() if k.lower() not in _BODY_FRAMING]
    return httpx.Response(response.status_code, headers=headers, content=b"".join(chunks), request=response.request)


_BODY_FRAMING = frozenset({"content-encoding", "content-length", "transfer-encoding"})
