"""Baseline (b), the naive stack: FastAPI + a pydantic model + the SQLAlchemy ORM, inserting one object.

What the same endpoint costs when written the usual tutorial way (PostgreSQL or SQLite, from the URL).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from pydantic import BaseModel, EmailStr
from sqlalchemy import JSON, BigInteger, String
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

URL = os.environ["BENCH_DATABASE_URL"].replace("postgresql://", "postgresql+asyncpg://")
engine = create_async_engine(URL, pool_size=16, max_overflow=0) if "postgresql" in URL else create_async_engine(URL)
sessions = async_sessionmaker(engine, expire_on_commit=False)


class Base(DeclarativeBase):
    pass


class Payment(Base):
    __tablename__ = "bench_orm_payments"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    description: Mapped[str] = mapped_column(String(155))
    body: Mapped[dict[str, object]] = mapped_column(JSON)


class Customer(BaseModel):
    email: EmailStr
    first_name: str
    last_name: str


class InitializeRequest(BaseModel):
    amount: int
    currency: str
    description: str
    return_url: str
    customer: Customer
    metadata: dict[str, str] | None = None


@asynccontextmanager
async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    yield
    await engine.dispose()


app = FastAPI(lifespan=lifespan)


@app.post("/v1/payments/initialize", status_code=201)
async def initialize(request: InitializeRequest) -> dict[str, object]:
    payment_id = "py_" + secrets.token_hex(8)
    session: AsyncSession
    async with sessions() as session, session.begin():
        session.add(
            Payment(
                id=payment_id,
                amount=request.amount,
                currency=request.currency,
                description=request.description,
                body=request.model_dump(),
            )
        )
    return {
        "message": "Transaction initialized successfully",
        "data": {"id": payment_id, "checkout_url": f"http://127.0.0.1/checkout/{payment_id}"},
    }
