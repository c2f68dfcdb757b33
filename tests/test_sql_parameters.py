"""No value is ever pasted into SQL text: the proof by recording what reaches the databases.

Many requests carry a unique marker in every value position a client controls (names,
descriptions, properties and their keys, results, filter literals, JSON paths in filters,
query parameters, path segments, rule and device fields, CSV columns, unusual numbers as ids
and page sizes). A hook records the text of every statement the server sends: on SQLite a
``sqlite3.Connection`` subclass (the driver's own trace callback cannot serve, since Python
hands it the SQL with the parameters already filled in), on PostgreSQL asyncpg's query logger
on each pooled connection. No recorded text may hold a marker, and the markers must have
reached the database as bound parameters, or the test proves nothing.

What this does not see: asyncpg's COPY sends rows in binary after a statement naming only
the table and columns; requests not made here may build other statements (the static check
below covers the query compiler's and the stores' modules only as far as it reads them).
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import TestClient, backend_settings, make_app

MARK = "zqmk"
NUMBERS = ("987654321", "7919", "7907")  # an id, a $top and a $skip no statement writes itself


class Recorder:
    def __init__(self) -> None:
        self.texts: list[str] = []
        self.params: list[str] = []

    def add(self, sql: str, params: Any = ()) -> None:
        self.texts.append(sql)
        self.params.append(repr(params))


class _Cursor(sqlite3.Cursor):
    recorder: Recorder

    def execute(self, sql: str, params: Any = (), /) -> sqlite3.Cursor:
        self.recorder.add(sql, params)
        return super().execute(sql, params)

    def executemany(self, sql: str, rows: Any, /) -> sqlite3.Cursor:
        rows = list(rows)
        self.recorder.add(sql, rows)
        return super().executemany(sql, rows)

    def executescript(self, script: str, /) -> sqlite3.Cursor:
        self.recorder.add(script)
        return super().executescript(script)


class _Connection(sqlite3.Connection):
    """Every statement goes through a cursor of ours (Connection.execute makes a cursor)."""

    def cursor(self, factory: Any = None) -> sqlite3.Cursor:  # type: ignore[override]
        return super().cursor(_Cursor)

    def execute(self, sql: str, params: Any = (), /) -> sqlite3.Cursor:
        return self.cursor().execute(sql, params)

    def executemany(self, sql: str, rows: Any, /) -> sqlite3.Cursor:
        return self.cursor().executemany(sql, rows)

    def executescript(self, script: str, /) -> sqlite3.Cursor:
        return self.cursor().executescript(script)


@pytest.fixture(params=["sqlite", "postgresql"])
def recorded(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
             ) -> Iterator[tuple[TestClient, Recorder]]:
    recorder = Recorder()
    if request.param == "sqlite":
        _Cursor.recorder = recorder
        connect = sqlite3.connect
        monkeypatch.setattr(sqlite3, "connect", lambda *a, **k: connect(*a, factory=_Connection, **k))
    else:
        from quartier.store import postgres

        original = postgres._init_connection

        async def init(conn: Any) -> None:
            await original(conn)
            conn.add_query_logger(lambda query: recorder.add(query.query, query.args))

        monkeypatch.setattr(postgres, "_init_connection", init)
    settings = backend_settings(request, request.param, tmp_path)
    with TestClient(make_app(settings), raise_server_exceptions=False) as client:
        yield client, recorder


def m(n: int) -> str:
    return f"{MARK}{n}x"


def _requests(client: TestClient) -> list[Any]:
    """Requests with markers everywhere; their answers, to check that they were served."""
    unit = {"name": m(1), "symbol": m(2), "definition": m(3)}
    thing = {
        "name": m(4), "description": m(5), "properties": {m(6): m(7), "n": {m(8): [m(9)]}},
        "Locations": [{"name": m(10), "description": m(11), "encodingType": "application/geo+json",
                       "location": {"type": "Point", "coordinates": [9.1, 48.7]},
                       "properties": {"k": m(12)}}],
        "Datastreams": [{
            "name": m(13), "description": m(14), "observationType": m(15), "unitOfMeasurement": unit,
            "properties": {m(16): 1},
            "Sensor": {"name": m(17), "description": m(18), "encodingType": m(19), "metadata": m(20)},
            "ObservedProperty": {"name": m(21), "definition": m(22), "description": m(23)},
            "Observations": [{"result": m(24), "parameters": {m(25): m(26)},
                              "phenomenonTime": "2026-01-01T00:00:00Z"},
                             {"result": {m(27): m(28)}, "resultQuality": m(29)}],
        }],
    }
    answers = [client.post("/v1.1/Things", json=thing)]
    assert answers[0].status_code == 201, answers[0].text
    thing_id = answers[0].json()["@iot.id"]
    ds = client.get(f"/v1.1/Things({thing_id})/Datastreams").json()["value"][0]["@iot.id"]
    filters = [
        f"name eq '{m(30)}'", f"substringof('{m(31)}', description)", f"startswith(name, '{m(32)}')",
        f"properties/{m(33)} eq '{m(34)}'", f"properties/n/{m(35)} eq 1", f"tolower(name) eq '{m(36)}'",
        f"Datastreams/Observations/result eq '{m(37)}'", f"name in ('{m(38)}', '{m(39)}')",
        f"concat(name, '{m(40)}') eq '{m(41)}'", f"indexof(name, '{m(42)}') eq 1",
        f"Locations/properties/{m(43)} eq '{m(44)}'", f"Datastreams/unitOfMeasurement/symbol eq '{m(45)}'",
    ]
    for text in filters:
        answers.append(client.get("/v1.1/Things", params={"$filter": text, "$top": NUMBERS[1],
                                                          "$skip": NUMBERS[2], "$count": "true"}))
    answers += [
        client.get("/v1.1/Observations", params={"$filter": f"result eq '{m(46)}' or parameters/{m(47)} eq "
                                                 f"'{m(48)}' or result/{m(49)} gt 3"}),
        client.get("/v1.1/Things", params={"$orderby": f"properties/{m(50)} desc",
                                           "$expand": f"Datastreams($filter=name eq '{m(51)}')"}),
        client.get(f"/v1.1/Things({NUMBERS[0]})"),
        client.get(f"/v1.1/Things({thing_id})/Datastreams({NUMBERS[0]})"),
        client.patch(f"/v1.1/Things({thing_id})", json={"name": m(52), "properties": {m(53): m(54)}}),
        client.post("/v1.1/CreateObservations", json=[{
            "Datastream": {"@iot.id": ds}, "components": ["phenomenonTime", "result"],
            "dataArray": [["2026-01-02T00:00:00Z", m(55)]]}]),
        client.post("/v1.1/$batch", json={"requests": [
            {"id": "1", "method": "post", "url": "Things", "body": {"name": m(56), "description": m(57)}}]}),
        client.post("/api/rules", json={"name": m(58), "description": m(59), "target": {"datastream": ds},
                                        "condition": {"type": "threshold", "above": 100}}),
        client.get(f"/api/rules/{m(60)}"),
        client.post("/api/channels", json={"name": m(61), "type": "webhook", "url": f"https://{m(62)}.example/"}),
        client.get(f"/api/channels/{m(63)}/deliveries", params={"status": "failed"}),
        client.post("/api/device-profiles", json={"name": m(64), "decoder": "ldds75", "fields": {}}),
        client.get("/api/devices", params={"q": m(65), "limit": NUMBERS[1]}),
        client.get(f"/api/devices/{m(66)}"),
        client.post("/api/lorawan/integrations", json={"name": m(67), "network": "tts"}),
        client.get("/api/alerts", params={"status": "open", "since": "2026-01-01T00:00:00Z",
                                          "limit": NUMBERS[1], "offset": NUMBERS[2]}),
        client.put(f"/api/basemap/{m(68)}", json={"type": "FeatureCollection", "features": [
            {"type": "Feature", "properties": {"name": m(69)},
             "geometry": {"type": "Point", "coordinates": [9, 48]}}]}),
        client.get("/api/cap", params={"channel": m(70)}),
        client.post("/api/imports/csv", params={"datastream": ds, "timeColumn": "t", "valueColumn": "v"},
                    content=f"t,v\n2026-01-03T00:00:00Z,{m(71)}\n".encode(),
                    headers={"Content-Type": "text/csv"}),
        client.get(f"/api/datastreams/{ds}/series", params={"from": "2025-01-01T00:00:00Z"}),
        client.post("/api/workorders", json={"title": m(72), "description": m(73), "assignee": m(74)}),
        client.get("/api/workorders", params={"assignee": m(74), "status": "open,done"}),
        client.post("/api/lighting/schedules", json={"name": "s", "target": {"district": m(75)},
                                                     "timezone": "Europe/Berlin"}),
    ]
    order = answers[-3].json()["id"]
    answers.append(client.patch(f"/api/workorders/{order}",
                                json={"status": "done", "closingNote": m(76)}))
    return answers


def test_no_value_is_pasted_into_sql(recorded: tuple[TestClient, Recorder]) -> None:
    client, recorder = recorded
    answers = _requests(client)
    assert all(a.status_code < 500 for a in answers), [a.text for a in answers if a.status_code >= 500]
    served = sum(200 <= a.status_code < 300 for a in answers)
    assert served >= len(answers) * 2 // 3, [(a.request.url, a.status_code, a.text) for a in answers]
    assert len(recorder.texts) > 100
    pasted = [t for t in recorder.texts if MARK in t.lower()]
    assert not pasted, pasted[:5]
    numbers = [t for t in recorder.texts if any(re.search(rf"\b{n}\b", t) for n in NUMBERS)]
    assert not numbers, numbers[:5]
    # The markers did reach the database, as parameters: the hook saw the traffic.
    bound = {n for n in range(1, 77) if any(m(n) in p for p in recorder.params)}
    assert len(bound) >= 30, sorted(bound)
