"""The payment object with everything it embeds (app, capture), read in the caller's transaction."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from cauri.domain.clock import iso
from cauri.domain.representation import AppLike, Payment, app_object, capture_object, payment_object
from cauri.store.apps import app_from_row
from cauri.store.attempts import AttemptRepository
from cauri.store.refunds import RefundRepository
from cauri.store.tables import apps


def checkout_url(public_url: str, payment_id: str) -> str:
    return f"{public_url}/checkout/{payment_id}"


async def payment_views(
    conn: AsyncConnection, rows: Sequence[Mapping[Any, Any]], *, public_url: str, app: AppLike | None = None
) -> list[Payment]:
    """Payment objects for ``rows`` (one query for all their captures, one for their refunds, one for the app if
    not given)."""
    if not rows:
        return []
    if app is None:
        app = app_from_row((await conn.execute(select(apps).where(apps.c.id == rows[0]["app_id"]))).one())
    app_data = app_object(app, iso)
    chosen = await AttemptRepository(conn).captures([r["id"] for r in rows])
    refunded = await RefundRepository(conn, _no_events).of_payments([r["id"] for r in rows])
    return [
        payment_object(
            row,
            app_data,
            checkout_url=checkout_url(public_url, row["id"]),
            iso=iso,
            capture=capture_object(chosen[row["id"]]._mapping, row, iso) if row["id"] in chosen else None,
            refunds=[r._mapping for r in refunded.get(row["id"], ())],
        )
        for row in rows
    ]


def _no_events(kind: str, subject: str) -> None:
    raise AssertionError("views only read")
