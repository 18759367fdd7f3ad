"""Every failure answered in the envelope, with the field named where there is one; never a bare 500."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.exc import DBAPIError, OperationalError
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from cauri.api.envelope import EnvelopeResponse
from cauri.domain.errors import DomainError

log = logging.getLogger("cauri.api")


class ApiError(Exception):
    """A failure of the HTTP exchange itself (authentication, body, limits) rather than of a business rule."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers


async def api_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return EnvelopeResponse(exc.message, status_code=exc.status, headers=exc.headers)


async def domain_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DomainError)
    errors = exc.errors.by_field if exc.errors else None
    return EnvelopeResponse(exc.message, status_code=exc.status, errors=errors)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        message = f"The route {request.url.path.lstrip('/')} could not be found."
    elif exc.status_code == 405:
        allowed = (exc.headers or {}).get("Allow", "")
        message = f"The {request.method} method is not supported for route {request.url.path.lstrip('/')}."
        if allowed:
            message += f" Supported methods: {allowed}."
    else:
        message = str(exc.detail)
    return EnvelopeResponse(message, status_code=exc.status_code, headers=exc.headers)


#: nginx's "client closed request": the request log shows the client left; nobody reads the answer.
CLIENT_GONE = 499


async def client_gone(_request: Request, exc: Exception) -> Response:
    """The client hung up before its body arrived: its doing, not a server error, so no traceback."""
    assert isinstance(exc, ClientDisconnect)
    return Response(status_code=CLIENT_GONE)


async def server_error(request: Request, exc: Exception) -> Response:
    if isinstance(exc, OperationalError) and "database is locked" in str(exc.orig):
        # SQLite's single writer stayed busy longer than busy_timeout: the client may simply retry.
        return EnvelopeResponse("The gateway is busy; retry shortly.", status_code=503, headers={"Retry-After": "1"})
    if isinstance(exc, DBAPIError) and _sqlstate(exc) == "55P03":
        return EnvelopeResponse("The resource is locked by another request; retry shortly.", status_code=409)
    log.exception("unhandled error", extra={"path": request.url.path})
    return EnvelopeResponse("Server error.", status_code=500)


def _sqlstate(exc: DBAPIError) -> Any:
    orig = exc.orig
    return getattr(orig, "sqlstate", None) or getattr(getattr(orig, "__cause__", None), "sqlstate", None)
