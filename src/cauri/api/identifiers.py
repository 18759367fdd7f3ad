"""Identifiers taken from paths and query strings, checked at the edge: an id Cauri never issues (a NUL byte,
a control character, a megabyte of text) is not found or refused here, never sent to the database."""

from __future__ import annotations

import re

from starlette.requests import Request

from cauri.domain.errors import FieldErrors, NotFound, ValidationFailed

#: Every id Cauri issues (py_…, att_…, evt_…, we_…, "evt_…:we_…" deliveries, ULIDs) fits this.
_ID = re.compile(r"[A-Za-z0-9_:-]{1,100}")


def path_id(request: Request, name: str, not_found: str) -> str:
    """The path parameter ``name``; a value that cannot be an id is simply not found."""
    value: str = request.path_params[name]
    if not is_identifier(value):
        raise NotFound(not_found)
    return value


def query_id(value: str | None, field: str) -> str | None:
    """An optional id in the query string (a cursor, ``before``): refused with 422 naming ``field``."""
    if value is None or is_identifier(value):
        return value
    raise ValidationFailed(FieldErrors({field: [f"The {field} field is not an identifier this API returned."]}))


def is_identifier(value: str) -> bool:
    """Whether ``value`` has the shape of an id Cauri issues (say, the one inside a cursor)."""
    return _ID.fullmatch(value) is not None
