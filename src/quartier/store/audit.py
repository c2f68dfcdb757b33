"""The audit log: who changed what, when, and from where; one row per write request.

The access gate opens a :class:`AuditTrail` for each write request and keeps it in a
context variable. :meth:`quartier.store.base.Store.write` adds the trail's row to the
batch, so that it is written in the batch's transaction (and merged with others on the
group-commit path: one row per request, however many Observations it carries). Writes
that do not go through ``Store.write`` (rules, channels, keys) are recorded by their
handler in their own transaction, or else by the gate, before the response is sent.
Rows are only ever added; no API changes or deletes them.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from quartier.model.changes import Record
from quartier.model.times import now_utc
from quartier.model.values import TIME
from quartier.store.connection import Connection
from quartier.store.dialect import Dialect

TABLE = "audit_log"
_COLUMNS = ("id", "at", "request_id", "principal", "principal_name", "role", "action", "target",
            "detail", "address")


@dataclass
class AuditTrail:
    """What the audit log says about one request, and whether it has said it yet."""

    tenant_id: int
    request_id: str
    principal: str  # who: the principal's id
    principal_name: str
    role: str
    action: str  # what: e.g. sensorthings.create, alerts.acknowledge, keys.revoke
    target: str  # on what: the request path
    address: str  # from where: the client's address
    detail: dict[str, Any] = field(default_factory=dict)
    recorded: bool = False

    def values(self, dialect: Dialect, **detail: Any) -> dict[str, Any]:
        """The row's columns (plain values, so that merged writes can carry it)."""
        return {
            "tenant_id": self.tenant_id,
            "at": dialect.encode(TIME, now_utc()),
            "request_id": self.request_id,
            "principal": self.principal,
            "principal_name": self.principal_name,
            "role": self.role,
            "action": self.action,
            "target": self.target,
            "detail": orjson.dumps({**self.detail, **detail}).decode(),
            "address": self.address,
        }

    def record(self, dialect: Dialect, **detail: Any) -> Record:
        return Record(TABLE, self.values(dialect, **detail))

    async def write(self, conn: Connection, dialect: Dialect, **detail: Any) -> None:
        """Insert the row on ``conn`` (inside the caller's transaction)."""
        values = self.values(dialect, **detail)
        await conn.execute(
            f"INSERT INTO {TABLE} ({', '.join(values)}) VALUES ({', '.join('?' * len(values))})",
            list(values.values()),
        )
        self.recorded = True


current: ContextVar[AuditTrail | None] = ContextVar("quartier_audit_trail", default=None)


@dataclass(frozen=True)
class AuditQuery:
    """Which rows of a tenant's audit log to read, newest first."""

    since: datetime | None = None
    until: datetime | None = None
    principal: str | None = None
    action: str | None = None
    limit: int = 100
    before_id: int | None = None  # paging: rows older than this one


async def read_log(
    conn: Connection, dialect: Dialect, tenant_id: int, query: AuditQuery
) -> list[dict[str, Any]]:
    parts: list[str] = ["tenant_id = ?"]
    params: list[Any] = [tenant_id]
    if query.since is not None:
        parts.append("at >= ?")
        params.append(dialect.encode(TIME, query.since))
    if query.until is not None:
        parts.append("at < ?")
        params.append(dialect.encode(TIME, query.until))
    if query.principal:  # the principal's id or its name
        parts.append("(principal = ? OR principal_name = ?)")
        params.extend([query.principal, query.principal])
    if query.action:
        parts.append("action = ?")
        params.append(query.action)
    if query.before_id is not None:
        parts.append("id < ?")
        params.append(query.before_id)
    rows = await conn.fetch(
        f"SELECT {', '.join(_COLUMNS)} FROM {TABLE} WHERE {' AND '.join(parts)} "
        "ORDER BY id DESC LIMIT ?",
        [*params, query.limit],
    )
    return [_entry(row, dialect) for row in rows]


def _entry(row: Sequence[Any], dialect: Dialect) -> dict[str, Any]:
    out = dict(zip(_COLUMNS, row, strict=True))
    at = dialect.decode(TIME, out["at"])
    out["at"] = at.isoformat().replace("+00:00", "Z")
    out["detail"] = orjson.loads(out["detail"])
    return out
