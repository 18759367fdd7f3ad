"""``/openapi.json`` and interactive docs at ``/docs``, served from this package (no CDN)."""

from __future__ import annotations

from functools import cache
from html import escape
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


async def swagger(_request: Request) -> Response:
    title = escape("Cauri API")
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<link rel="stylesheet" href="/docs/static/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/docs/static/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script></body></html>"""
    return HTMLResponse(page, headers={"Content-Security-Policy": _CSP})


async def swagger_init(_request: Request) -> Response:
    script = 'window.ui = SwaggerUIBundle({url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true});'
    return Response(script, media_type="text/javascript")


# Swagger UI needs inline styles and data: images; scripts come only from this origin.
_CSP = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'"

routes = [
    Route("/openapi.json", openapi_json, methods=["GET"]),
    Route("/docs", swagger, methods=["GET"]),
    Route("/docs/init.js", swagger_init, methods=["GET"]),
    Mount("/docs/static", app=StaticFiles(directory=Path(swagger_ui_path)), name="swagger-static"),
]
