"""driftwood: a tiny HTTP service that logs what the tide brought in.

POST /finds {"beach": "...", "length_cm": 42.5, "note": "..."} stores a find in
PostgreSQL (DATABASE_URL); GET /finds lists the latest; GET /healthz answers "ok".
Run it with: uvicorn driftwood:app --host 0.0.0.0 --port 8000
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import psycopg
from pydantic import BaseModel, Field, ValidationError
from starlette.applications import Starlette
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

if TYPE_CHECKING:
    from starlette.requests import Request

SCHEMA = """CREATE TABLE IF NOT EXISTS finds (
    id serial PRIMARY KEY,
    beach text NOT NULL,
    length_cm real NOT NULL,
    note text NOT NULL DEFAULT '',
    found_at timestamptz NOT NULL DEFAULT now()
)"""


class Find(BaseModel):
    beach: str = Field(min_length=1, max_length=100)
    length_cm: float = Field(gt=0, lt=10_000)
    note: str = Field(default="", max_length=500)


async def _connect() -> psycopg.AsyncConnection[tuple[object, ...]]:
    conn = await psycopg.AsyncConnection.connect(os.environ["DATABASE_URL"])
    await conn.execute(SCHEMA)
    return conn


async def healthz(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


async def add_find(request: Request) -> JSONResponse:
    try:
        find = Find.model_validate_json(await request.body())
    except ValidationError as exc:
        return JSONResponse({"errors": exc.errors(include_url=False)}, status_code=422)
    async with await _connect() as conn:
        cur = await conn.execute(
            "INSERT INTO finds (beach, length_cm, note) VALUES (%s, %s, %s) RETURNING id",
            (find.beach, find.length_cm, find.note),
        )
        row = await cur.fetchone()
    return JSONResponse({"id": row[0] if row else None, **find.model_dump()}, status_code=201)


async def list_finds(request: Request) -> JSONResponse:
    async with await _connect() as conn:
        cur = await conn.execute(
            "SELECT beach, length_cm, note FROM finds ORDER BY found_at DESC LIMIT 50"
        )
        rows = await cur.fetchall()
    return JSONResponse([Find(beach=b, length_cm=n, note=t).model_dump() for b, n, t in rows])


app = Starlette(
    routes=[
        Route("/healthz", healthz),
        Route("/finds", add_find, methods=["POST"]),
        Route("/finds", list_finds, methods=["GET"]),
    ]
)
