"""Reading the API's envelope: ``data`` on success, the matching error otherwise."""

from __future__ import annotations

from typing import Any

import httpx

from cauri_client._errors import error_for


def unwrap(response: httpx.Response) -> Any:
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.is_success and isinstance(body, dict):
        return body.get("data")
    message = body.get("message") if isinstance(body, dict) else None
    errors = body.get("errors") if isinstance(body, dict) and isinstance(body.get("errors"), dict) else None
    raise error_for(response.status_code, message or f"HTTP {response.status_code}", errors)
