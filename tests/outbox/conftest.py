"""Webhook receivers: real HTTP servers on loopback that record what they get."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


@dataclass
class Receiver:
    url: str
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)  # status codes to give, in order; then 200
    delay: float = 0.0  # seconds to take before answering
    arrived: int = 0  # requests come in, answered or not yet


def _serve_receiver() -> Iterator[Receiver]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # A path of its own: a port may come again in the same process, and tests find their endpoints by URL.
    state = Receiver(f"http://127.0.0.1:{port}/hooks/{secrets.token_hex(4)}")

    async def hook(request: Request) -> Response:
        state.arrived += 1
        if state.delay:
            await asyncio.sleep(state.delay)
        state.received.append((dict(request.headers), await request.body()))
        status = state.answers.pop(0) if state.answers else 200
        headers = {"Location": "https://elsewhere.example/"} if 300 <= status < 400 else None
        return Response(f"answer {status}", status_code=status, headers=headers)

    app = Starlette(routes=[Route("/hooks/{receiver}", hook, methods=["POST"])])
    server = uvicorn.Server(uvicorn.Config(app, port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    yield state
    server.should_exit = True
    thread.join(5)


def check_signatures(headers: dict[str, str], body: bytes, secret: str) -> None:
    """The receiver's own verification, written from the two specifications, not from our code."""
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["x-moneroo-signature"], expected)
    key = base64.b64decode(secret[len("whsec_") :])
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    standard = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    assert headers["webhook-signature"] == f"v1,{standard}"
    assert abs(int(headers["webhook-timestamp"]) - time.time()) < 60


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    yield from _serve_receiver()


@pytest.fixture
def slow_receiver() -> Iterator[Receiver]:
    yield from _serve_receiver()
