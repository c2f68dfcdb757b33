"""Helpers for notification tests: the running platform, alerts written with SQL as the
rules engine writes them, a webhook receiver."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
import pytest

from conftest import TestClient
from quartier.model.times import format_instant
from quartier.model.values import JSON, TIME
from quartier.settings import Settings
from quartier.store import Store

SEVERITY_OF_LEVEL = {1: "minor", 2: "moderate", 3: "severe", 4: "extreme"}


def with_settings(settings: Settings, **changes: Any) -> Settings:
    values = {"database": settings.database, "data_dir": settings.data_dir,
              "archive_after_days": 0, "notify_retry_seconds": 1}
    values.update(changes)
    return Settings.validated(values)


class Platform:
    """A running app, and SQL access to its store from the test."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.app: Any = client.app
        self.store: Store = self.app.state.store

    def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        assert self.client.portal is not None
        return self.client.portal.call(fn, *args)

    def wake(self) -> None:
        self.app.state.notifications.wake()

    def channel(self, body: dict[str, Any], tenant: str = "") -> dict[str, Any]:
        response = self.client.post(f"{tenant}/api/channels", json=body)
        assert response.status_code == 201, response.text
        return dict(response.json())

    def deliveries(self, channel: str, **params: Any) -> list[dict[str, Any]]:
        response = self.client.get(f"/api/channels/{channel}/deliveries", params=params)
        assert response.status_code == 200, response.text
        return list(response.json()["value"])

    def open_alert(self, **fields: Any) -> int:
        return int(self.run(open_alert, self.store, fields))

    def change(self, alert_id: int, kind: str, **fields: Any) -> int:
        return int(self.run(change_alert, self.store, alert_id, kind, fields))

    def rule(self, name: str, definition: dict[str, Any]) -> int:
        return int(self.run(add_rule, self.store, name, definition))

    def events(self, alert_id: int) -> list[tuple[int, str]]:
        async def read() -> list[tuple[int, str]]:
            async with self.store.reader() as conn:
                rows = await conn.fetch(
                    "SELECT id, kind FROM alert_events WHERE alert_id = ? ORDER BY id", (alert_id,))
            return [(int(r[0]), str(r[1])) for r in rows]

        return list(self.run(read))


def wait_for(check: Callable[[], Any], what: str, seconds: float = 30.0) -> Any:
    """Poll until ``check()`` gives something true; fail naming ``what`` after ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.05)


# -- alerts, written as the rules engine writes them ---------------------------------

_ALERT_COLUMNS = ("id, tenant_id, rule_id, rule_name, subject, datastream_id, thing_id, status, level, "
                  "level_name, severity, message, value, peak, observed_at, area, opened_at, "
                  "updated_at, acknowledged_at, acknowledged_by, resolved_at, resolved_by")


def _snapshot(store: Store, row: Any) -> dict[str, Any]:
    decode = store.dialect.decode

    def when(value: Any) -> str | None:
        return None if value is None else format_instant(decode(TIME, value))

    return {"id": row[0], "rule": row[3], "ruleId": row[2], "subject": row[4],
            "datastreamId": row[5], "thingId": row[6], "status": row[7], "level": row[8],
            "levelName": row[9], "severity": row[10], "message": row[11],
            "value": decode(JSON, row[12]), "peak": decode(JSON, row[13]),
            "observedAt": when(row[14]), "area": decode(JSON, row[15]), "openedAt": when(row[16]),
            "updatedAt": when(row[17]), "acknowledgedAt": when(row[18]),
            "acknowledgedBy": row[19], "resolvedAt": when(row[20]), "resolvedBy": row[21]}


async def _event(conn: Any, store: Store, alert_id: int, kind: str, at: datetime,
                 by: str | None = None, comment: str | None = None) -> int:
    row = await conn.fetchrow(f"SELECT {_ALERT_COLUMNS} FROM alerts WHERE id = ?", (alert_id,))
    return int(await conn.fetchval(
        "INSERT INTO alert_events (tenant_id, alert_id, kind, at, by_person, comment, alert) "
        "VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
        (row[1], alert_id, kind, store.dialect.encode(TIME, at), by, comment,
         store.dialect.encode(JSON, _snapshot(store, row)))))


async def add_rule(store: Store, name: str, definition: dict[str, Any]) -> int:
    async with store.transaction() as conn:
        return int(await conn.fetchval(
            "INSERT INTO rules (tenant_id, name, definition) VALUES (1, ?, ?) RETURNING id",
            (name, store.dialect.encode(JSON, definition))))


async def open_alert(store: Store, fields: dict[str, Any]) -> int:
    """A new open alert and its ``opened`` event, in one transaction."""
    level = fields.get("level", 1)
    at = fields.get("at", datetime.now(UTC))
    encode = store.dialect.encode
    async with store.transaction() as conn:
        alert_id = int(await conn.fetchval(
            "INSERT INTO alerts (tenant_id, rule_id, rule_name, subject, datastream_id, thing_id, "
            "status, level, level_name, severity, message, value, peak, observed_at, area, "
            "opened_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, 'open', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "RETURNING id",
            (fields.get("tenant_id", 1), fields.get("rule_id"), fields.get("rule", "Pegel Erlenbach"),
             "datastream:7", 7, 3, level, fields.get("level_name", f"Meldestufe {level}"),
             fields.get("severity", SEVERITY_OF_LEVEL[level]),
             fields.get("message", "Der Pegel Erlenbach steigt."),
             encode(JSON, fields.get("value", 182.5)), encode(JSON, fields.get("value", 182.5)),
             encode(TIME, at), encode(JSON, fields.get("area")), encode(TIME, at), encode(TIME, at))))
        await _event(conn, store, alert_id, "opened", at)
    return alert_id


async def change_alert(store: Store, alert_id: int, kind: str, fields: dict[str, Any]) -> int:
    """Change an alert as the engine does (escalated, deescalated, acknowledged, resolved)
    and write its event, in one transaction."""
    at = fields.get("at", datetime.now(UTC))
    encode = store.dialect.encode
    async with store.transaction() as conn:
        if "level" in fields:
            level = fields["level"]
            await conn.execute(
                "UPDATE alerts SET level = ?, level_name = ?, severity = ?, updated_at = ? "
                "WHERE id = ?", (level, f"Meldestufe {level}", SEVERITY_OF_LEVEL[level],
                                 encode(TIME, at), alert_id))
        if kind == "acknowledged":
            await conn.execute(
                "UPDATE alerts SET status = 'acknowledged', acknowledged_at = ?, acknowledged_by = ?, "
                "updated_at = ? WHERE id = ?",
                (encode(TIME, at), fields.get("by", "Erika Muster"), encode(TIME, at), alert_id))
        if kind == "resolved":
            await conn.execute(
                "UPDATE alerts SET status = 'resolved', resolved_at = ?, updated_at = ? WHERE id = ?",
                (encode(TIME, at), encode(TIME, at), alert_id))
        return await _event(conn, store, alert_id, kind, at, fields.get("by"), fields.get("comment"))


# -- a webhook receiver --------------------------------------------------------------------

class Receiver:
    """An HTTP server on 127.0.0.1 that records what is posted to it; it answers 500 to the
    first ``failures`` requests."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.failures = 0
        self.refused = 0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver.lock:
                    fail = receiver.failures > 0
                    if fail:
                        receiver.failures -= 1
                        receiver.refused += 1
                    else:
                        headers = {k.lower(): v for k, v in self.headers.items()}
                        headers["path"] = self.path
                        receiver.received.append((headers, body))
                self.send_response(500 if fail else 204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def kinds(self, path: str | None = None) -> list[str]:
        """The kinds of the events received (on ``path``), in order."""
        with self.lock:
            return [orjson.loads(body)["kind"] for headers, body in self.received
                    if path is None or headers["path"] == path]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
