"""The hot path's own door: a request for one of a few exact routes (``POST /v1/payments/initialize``) goes
straight to its handler, past Starlette's router and its two exception layers.

Those layers cost initialize ~4 % of its throughput (the router's matching, a ``Request`` built only to
answer errors, two wrappers of every message sent). What they do for these routes is done here the same way:
the route is recorded in the scope (the metrics label requests by it), an exception is answered by the app's
own handler for its class, and one no handler claims is answered by the server-error handler and raised
again, as Starlette's server-error layer does, for the server to log. Every other request, and these paths
with another method (405) or under a root path, go through Starlette as before.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: The app's exception handlers are all of this kind (``errors.py``).
Handler = Callable[[Request, Exception], Awaitable[Response]]


class HotPath:
    def __init__(self, app: ASGIApp, routes: Iterable[Route], handlers: Mapping[Any, Handler]) -> None:
        self.app = app
        self.routes: dict[tuple[Any, str], Route] = {
            (method, route.path): route for route in routes for method in route.methods or ()
        }
        # As Starlette splits them: Exception (or 500) is the server-error layer's, the rest the inner layer's.
        self.handlers = {key: handler for key, handler in handlers.items() if key not in (Exception, 500)}
        # Handlers keyed by status code are looked up from an HTTPException's code, which this door does not do.
        assert not any(isinstance(key, int) and key != 500 for key in handlers), "status handlers are not served"
        server_error = handlers.get(Exception) or handlers.get(500)
        assert server_error is not None, "the app must answer unhandled exceptions itself"
        self.server_error: Handler = server_error

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = self.routes.get((scope.get("method"), scope["path"])) if scope["type"] == "http" else None
        if route is None or scope.get("root_path"):
            await self.app(scope, receive, send)
            return
        scope["route"] = route
        started = False

        async def sender(message: Message) -> None:
            nonlocal started
            started = True
            await send(message)

        try:
            await route.app(scope, receive, sender)
        except Exception as exc:
            if started:
                raise
            # The handler of the exception's nearest class that has one, as Starlette looks it up.
            handler = next((self.handlers[cls] for cls in type(exc).__mro__ if cls in self.handlers), None)
            response = await (handler or self.server_error)(Request(scope, receive), exc)
            await response(scope, receive, send)
            if handler is None:
                raise
            exc.__traceback__ = None  # as Starlette does: a reused exception would pile up tracebacks
