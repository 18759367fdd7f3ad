"""``/openapi.json`` and interactive docs at ``/docs``: Swagger UI 5 (it reads OpenAPI 3.1), served from the
``swagger-ui-bundle-v2`` package, so the browser asks nothing of any other host."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import orjson
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

from cauri.api.envelope import RawJSONResponse


@cache
def _openapi_bytes(public_url: str) -> bytes:
    from cauri.api.openapi import openapi_document

    return orjson.dumps(openapi_document(public_url))


async def openapi_json(request: Request) -> Response:
    return RawJSONResponse(_openapi_bytes(request.app.state.gateway.settings.resolved_public_url))


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Cauri API</title>
<link rel="icon" type="image/png" href="/docs/static/favicon-32x32.png">
<link rel="stylesheet" href="/docs/static/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/docs/static/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script></body></html>"""

# validatorUrl: null, or Swagger UI fetches a badge from validator.swagger.io for any non-local spec URL.
_INIT = (
    'window.ui = SwaggerUIBundle({url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true, validatorUrl: null});'
)

# Swagger UI sets inline styles and draws data: images; scripts and fetches stay on this origin.
_CSP = (
    "default-src 'self'; script-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


async def swagger(_request: Request) -> Response:
    return HTMLResponse(_PAGE, headers={"Content-Security-Policy": _CSP})


async def swagger_init(_request: Request) -> Response:
    return Response(_INIT, media_type="text/javascript")


routes = [
    Route("/openapi.json", openapi_json, methods=["GET"]),
    Route("/docs", swagger, methods=["GET"]),
    Route("/docs/init.js", swagger_init, methods=["GET"]),
    Mount("/docs/static", app=StaticFiles(directory=Path(swagger_ui_path)), name="swagger-static"),
]
