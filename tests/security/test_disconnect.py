"""A client that goes away mid-body is not a server error: no 500 in the request log, no traceback."""

from __future__ import annotations

import logging
import socket
import time

from cauri.app import create_app
from cauri.settings import Settings
from tests.conftest import MerchantApp, serving


class Captured(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _hang_up_mid_body(port: int, path: str, headers: str) -> None:
    with socket.create_connection(("127.0.0.1", port)) as conn:
        head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5000\r\n{headers}\r\n"
        conn.sendall(head.encode() + b'{"amount": 100, "descr')
        time.sleep(0.3)  # the handler is reading the body now


def test_a_client_that_hangs_up_mid_body_is_logged_without_a_500(settings: Settings, merchant: MerchantApp) -> None:
    port = _free_port()
    # No dispatcher: on the run's shared database it would find other tests' deliveries (sealed with their own
    # keys) and log their failures, which are not what this test is about.
    app = create_app(settings.model_copy(update={"log_level": "info", "dispatcher_in_serve": False}))
    captured = Captured()
    loggers = [logging.getLogger(name) for name in ("cauri", "uvicorn", "uvicorn.error")]
    for logger in loggers:
        logger.addHandler(captured)
    try:
        with serving(app, port):
            _hang_up_mid_body(port, "/v1/payments/initialize", f"Authorization: Bearer {merchant.secret}\r\n")
            _hang_up_mid_body(port, "/connectors/sandbox/callback", "")
            deadline = time.monotonic() + 5
            while sum(r.getMessage() == "request" for r in captured.records) < 2 and time.monotonic() < deadline:
                time.sleep(0.05)
    finally:
        for logger in loggers:
            logger.removeHandler(captured)
    requests = [r for r in captured.records if r.getMessage() == "request"]
    assert [(r.path, r.status) for r in requests] == [  # type: ignore[attr-defined]
        ("/v1/payments/initialize", 499),
        ("/connectors/sandbox/callback", 499),
    ]
    serving_errors = [r for r in captured.records if r.exc_info or r.levelno >= logging.ERROR]
    assert not [r for r in serving_errors if not r.name.startswith("cauri.workers")]
