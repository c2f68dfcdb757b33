"""Dead letters: every message that could not be stored, kept with its source, address,
time and reason, until someone retries or drops it. Nothing that arrives vanishes.

Each tenant sees its own dead letters. Those that could not be told to any tenant (a topic
naming no tenant that exists) belong to the default tenant, the platform's operator."""

from __future__ import annotations

import base64
from typing import Any

from quartier.model.times import format_instant
from quartier.model.values import TIME
from quartier.store import Store

DEFAULT_TENANT = "default"

_COLUMNS = "id, tenant_id, source, address, received_at, reason, attempts, payload"


async def keep(
    store: Store, tenant_id: int | None, source: str, address: str, payload: bytes, reason: str
) -> int:
    """Keep a message that could not be stored; returns its id."""
    async with store.transaction() as conn:
        return int(await conn.fetchval(
            "INSERT INTO dead_letters (tenant_id, source, address, reason, payload) "
            "VALUES (?, ?, ?, ?, ?) RETURNING id",
            (tenant_id, source, address, reason, payload),
        ))


async def _of_tenant(store: Store, tenant_id: int) -> tuple[str, tuple[Any, ...]]:
    """The condition on dead letters that a tenant may see."""
    if tenant_id == await store.tenant_id(DEFAULT_TENANT):
        return "(tenant_id = ? OR tenant_id IS NULL)", (tenant_id,)
    return "tenant_id = ?", (tenant_id,)


async def listing(
    store: Store, tenant_id: int, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """A page of a tenant's dead letters, oldest first, and how many there are."""
    where, params = await _of_tenant(store, tenant_id)
    async with store.reader() as conn:
        rows = await conn.fetch(
            f"SELECT {_COLUMNS} FROM dead_letters WHERE {where} ORDER BY received_at, id "
            "LIMIT ? OFFSET ?", (*params, limit, offset),
        )
        total = await conn.fetchval(f"SELECT count(*) FROM dead_letters WHERE {where}", params)
    return [_letter(store, row) for row in rows], int(total)


async def find(store: Store, tenant_id: int, letter_id: int) -> dict[str, Any] | None:
    where, params = await _of_tenant(store, tenant_id)
    async with store.reader() as conn:
        row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM dead_letters WHERE id = ? AND {where}",
                                  (letter_id, *params))
    return None if row is None else _letter(store, row)


async def drop(store: Store, letter_id: int) -> bool:
    """Drop a dead letter (found first with :func:`find`, which checks its tenant)."""
    async with store.transaction() as conn:
        gone = await conn.fetchval("DELETE FROM dead_letters WHERE id = ? RETURNING id",
                                   (letter_id,))
    return gone is not None


async def failed_again(store: Store, letter_id: int, reason: str) -> None:
    async with store.transaction() as conn:
        await conn.execute(
            "UPDATE dead_letters SET attempts = attempts + 1, reason = ? WHERE id = ?",
            (reason, letter_id),
        )


def _letter(store: Store, row: Any) -> dict[str, Any]:
    received = store.dialect.decode(TIME, row[4])
    payload = bytes(row[7])
    out: dict[str, Any] = {
        "id": int(row[0]), "tenantId": row[1], "source": row[2], "address": row[3],
        "receivedAt": format_instant(received), "reason": row[5], "attempts": int(row[6]),
    }
    try:
        out["payload"] = payload.decode("utf-8")
    except UnicodeDecodeError:
        out["payloadBase64"] = base64.b64encode(payload).decode("ascii")
    out["rawPayload"] = payload
    return out
