"""A one-product shop that takes payments through Cauri (or Moneroo) with the cauri-client SDK.

    CAURI_API_URL=http://127.0.0.1:8000/v1 CAURI_SECRET_KEY=pvk_sandbox_… CAURI_WEBHOOK_SECRET=whsec_… \
    SHOP_URL=http://127.0.0.1:5000 uvicorn --app-dir examples/shop app:app --port 5000

Flow: "Buy" creates an order and a payment, and sends the customer to the hosted checkout; the return page
believes only the verify endpoint; the webhook fulfils each order exactly once, however often it arrives.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from html import escape

from cauri_client import Client, WebhookVerificationError, verify_webhook
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

PRICE, CURRENCY, PRODUCT = 5000, "XOF", "Pagne wax, 6 yards"


@dataclass(frozen=True)
class ShopSettings:
    api_url: str
    secret_key: str
    webhook_secret: str
    shop_url: str
    database: str = "shop.db"


def create_shop(settings: ShopSettings) -> FastAPI:
    app = FastAPI(title="Example shop")
    cauri = Client(settings.secret_key, base_url=settings.api_url)
    db = sqlite3.connect(settings.database, check_same_thread=False, isolation_level=None)
    db.executescript(
        """CREATE TABLE IF NOT EXISTS orders (id INTEGER PRIMARY KEY, status TEXT NOT NULL, payment_id TEXT);
           CREATE TABLE IF NOT EXISTS fulfilments (order_id INTEGER PRIMARY KEY, payment_id TEXT NOT NULL);"""
    )

    def page(title: str, body: str) -> HTMLResponse:
        return HTMLResponse(f"<!doctype html><meta charset=utf-8><title>{escape(title)}</title>"
                            f"<h1>{escape(title)}</h1>{body}")  # fmt: skip

    @app.get("/")
    def home() -> HTMLResponse:
        return page(PRODUCT, f"<p>{PRICE} {CURRENCY}</p><form method=post action=/buy>"
                             "<input name=email value=awa@example.com><button id=buy>Buy</button></form>")  # fmt: skip

    @app.post("/buy")
    def buy() -> RedirectResponse:
        order_id = db.execute("INSERT INTO orders (status) VALUES ('awaiting payment')").lastrowid
        payment = cauri.payments.initialize(
            amount=PRICE, currency=CURRENCY, description=f"{PRODUCT} (order {order_id})",
            return_url=f"{settings.shop_url}/return?order={order_id}",
            customer={"email": "awa@example.com", "first_name": "Awa", "last_name": "Dossou"},
            metadata={"order_id": str(order_id)},
        )  # fmt: skip
        db.execute("UPDATE orders SET payment_id = ? WHERE id = ?", (payment.id, order_id))
        return RedirectResponse(payment.checkout_url, status_code=303)

    @app.get("/return")
    def back(order: int, paymentId: str) -> HTMLResponse:
        row = db.execute("SELECT payment_id FROM orders WHERE id = ?", (order,)).fetchone()
        if row is None or row[0] != paymentId:
            return page("Unknown order", "")
        # The query string says nothing trustworthy: ask the API, and check what was paid for.
        payment = cauri.payments.verify(paymentId)
        if payment.is_paid and payment.metadata.get("order_id") == str(order) and payment.amount == PRICE:
            db.execute("UPDATE orders SET status = 'paid' WHERE id = ?", (order,))
            return page("Paid", f"<p id=status>Order {order} is paid. Thank you!</p>")
        return page("Not paid", f"<p id=status>Order {order}: payment {escape(payment.status)}.</p>")

    @app.post("/webhooks/cauri")
    async def webhook(request: Request) -> JSONResponse:
        raw = await request.body()
        try:
            event = verify_webhook(raw, request.headers, settings.webhook_secret)
        except WebhookVerificationError:
            return JSONResponse({"error": "bad signature"}, status_code=400)
        if event["event"] == "payment.success":
            # Believe the API, not the message (a blocking call: keep it off the event loop).
            payment = await run_in_threadpool(cauri.payments.verify, event["data"]["id"])
            order_id = payment.metadata.get("order_id")
            if payment.is_paid and order_id is not None:
                # The primary key makes fulfilment happen once, however often the webhook comes.
                db.execute("INSERT OR IGNORE INTO fulfilments (order_id, payment_id) VALUES (?, ?)",
                           (int(order_id), payment.id))  # fmt: skip
        return JSONResponse({"received": True})

    @app.get("/orders/{order_id}")
    def order_state(order_id: int) -> JSONResponse:
        status = db.execute("SELECT status FROM orders WHERE id = ?", (order_id,)).fetchone()
        shipped = db.execute("SELECT COUNT(*) FROM fulfilments WHERE order_id = ?", (order_id,)).fetchone()[0]
        return JSONResponse({"status": status[0] if status else None, "fulfilments": shipped})

    return app


def _from_environment() -> FastAPI:
    return create_shop(
        ShopSettings(
            api_url=os.environ.get("CAURI_API_URL", "http://127.0.0.1:8000/v1"),
            secret_key=os.environ.get("CAURI_SECRET_KEY", ""),
            webhook_secret=os.environ.get("CAURI_WEBHOOK_SECRET", ""),
            shop_url=os.environ.get("SHOP_URL", "http://127.0.0.1:5000"),
            database=os.environ.get("SHOP_DATABASE", "shop.db"),
        )
    )


if os.environ.get("CAURI_SECRET_KEY"):
    app = _from_environment()
