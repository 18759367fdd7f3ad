"""Providers' notifications of payments, payouts and refunds: no key guards these routes, so the body is read
bounded, the connector authenticates it, the service applies it once, and all three answer alike."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from cauri.api.body import read_body
from cauri.api.context import gateway_of
from cauri.connectors.registry import ConnectorRegistry
from cauri.domain.errors import NotFound
from cauri.services.checkout import CallbackRejected
from cauri.services.runtime import UnitOfWork

#: A provider's notification is a few KB.
CALLBACK_MAX = 65536

#: A service's notification handler: True when the notification changed something.
Handler = Callable[[UnitOfWork, ConnectorRegistry, str, bytes, Mapping[str, str]], Awaitable[bool]]


async def receive(request: Request, handle: Handler, what: str, log: logging.Logger) -> Response:
    """Hand ``request``'s notification to ``handle``: 404 for an unknown connector, 400 for one it rejects
    (logged as ``what`` rejected), else whether it applied."""
    name = request.path_params["connector"]
    body = await read_body(request, CALLBACK_MAX)
    gateway = gateway_of(request)
    try:
        applied = await handle(gateway.uow(), gateway.runtime.connectors, name, body, request.headers)
    except NotFound:
        return JSONResponse({"received": False, "error": "unknown connector"}, status_code=404)
    except CallbackRejected as exc:
        log.warning(f"{what} rejected", extra={"connector": name, "reason": str(exc)})
        return JSONResponse({"received": False, "error": str(exc)}, status_code=400)
    return JSONResponse({"received": True, "applied": applied})
