"""The dashboard's APIs in-process: base map, chart series, live stream, the page."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from conftest import Api, TestClient, create_tenant, full_thing_body
from quartier.live import LiveFeed, Message
from quartier.model.changes import ChangeEvent
from quartier.settings import Settings

DISTRICTS = {"type": "FeatureCollection", "features": [
    {"type": "Feature", "properties": {"name": "Altstadt"},
     "geometry": {"type": "Polygon", "coordinates": [[[9.1, 48.7], [9.2, 48.7], [9.2, 48.8], [9.1, 48.7]]]}}]}


def test_basemap_layers_are_stored_per_tenant(client: TestClient, settings: Settings) -> None:
    assert client.get("/api/basemap").json() == {"layers": {}}
    assert client.put("/api/basemap/districts", json=DISTRICTS).status_code == 201
    assert client.put("/api/basemap/districts", json=DISTRICTS).status_code == 200
    assert client.get("/api/basemap").json() == {"layers": {"districts": DISTRICTS}}
    assert client.get("/api/basemap/districts").json() == DISTRICTS
    create_tenant(settings, "nachbar")
    assert client.get("/t/nachbar/api/basemap").json() == {"layers": {}}
    assert client.get("/t/nachbar/api/basemap/districts").status_code == 404
    assert client.delete("/api/basemap/districts").status_code == 204
    assert client.get("/api/basemap/districts").json()["code"] == "not_found"
    assert client.get("/t/nowhere/api/basemap").status_code == 404


@pytest.mark.parametrize("body,message", [
    ({"type": "Feature"}, "FeatureCollection"),
    ({"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": None}]},
     "features[0].geometry"),
    ({"type": "FeatureCollection", "features": [{"type": "Feature", "properties": None,
      "geometry": {"type": "Point", "coordinates": [200, 10]}}]}, "coordinates"),
])
def test_bad_basemap_layers_are_refused(client: TestClient, body: Any, message: str) -> None:
    response = client.put("/api/basemap/districts", json=body)
    assert response.status_code == 400 and message in response.json()["message"]
    assert client.put("/api/basemap/Bad%20Name", json=DISTRICTS).status_code == 400
    assert client.get("/api/basemap").json() == {"layers": {}}


def _datastream_with_values(api: Api, start: datetime, count: int, step: timedelta) -> int:
    thing = api.create("Things", full_thing_body())
    datastream = api.ok(f"Things({thing})/Datastreams")["value"][0]["@iot.id"]
    rows = [[(start + i * step).isoformat().replace("+00:00", "Z"), float(i % 10)] for i in range(count)]
    response = api.post("CreateObservations", [{"Datastream": {"@iot.id": datastream},
                                                "components": ["phenomenonTime", "result"],
                                                "dataArray": rows}])
    assert response.status_code == 201, response.text
    return int(datastream)


def test_series_gives_values_or_buckets(client: TestClient, api: Api) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    datastream = _datastream_with_values(api, start, 600, timedelta(minutes=1))
    url = f"/api/datastreams/{datastream}/series"
    raw = client.get(url, params={"from": "2026-01-01T00:00:00Z", "to": "2026-01-01T01:00:00Z"}).json()
    assert raw["aggregated"] is False and raw["count"] == 60
    assert raw["values"][0] == ["2026-01-01T00:00:00Z", 0.0] and raw["values"][-1][1] == 9.0
    grouped = client.get(url, params={"from": "2026-01-01T00:00:00Z", "to": "2026-01-01T10:00:00Z",
                                      "points": "100"}).json()
    assert grouped["aggregated"] is True and grouped["count"] == 600 and grouped["interval"] == 360
    assert len(grouped["values"]) == 100
    first = grouped["values"][0]  # minutes 0..5: values 0..5
    assert first[0] == "2026-01-01T00:00:00Z" and first[1:] == [2.5, 0.0, 5.0, 6]
    assert sum(b[4] for b in grouped["values"]) == 600
    backwards = {"from": "2026-01-02T00:00:00Z", "to": "2026-01-01T00:00:00Z"}
    assert client.get(url, params=backwards).status_code == 400
    assert client.get(url, params={"points": "5"}).status_code == 400
    assert client.get("/api/datastreams/999/series").status_code == 404


def test_dashboard_page_and_settings(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert '<html lang="en">' in page.text and "/static/app.js" in page.text
    assert client.get("/static/app.js").status_code == 200
    assert client.get("/t/nowhere/").status_code == 404
    assert client.get("/api/dashboard").json() == {"tenant": "default", "tiles": "", "attribution": ""}


# -- the live feed, without HTTP -----------------------------------------------------------


class _Store:
    """Just enough of a Store for the feed's value handling."""

    signalling = False

    def __init__(self) -> None:
        self.listeners: list[Any] = []

    def subscribe(self, listener: Any) -> None:
        self.listeners.append(listener)


def test_live_feed_passes_on_the_newest_value_per_datastream_and_skips_history() -> None:
    feed = LiveFeed(_Store())  # type: ignore[arg-type]
    now = datetime.now(UTC)

    def obs(datastream: int, when: datetime, result: Any, tenant: int = 1) -> ChangeEvent:
        return ChangeEvent(tenant, "Observation", 1, "create",
                           facts=(datastream, (when, None), result))

    async def run() -> list[Message]:
        from quartier.live import Listener
        from quartier.live_view import LiveView

        listener = Listener(LiveView(1, False, frozenset({1})))
        feed._listeners[1].add(listener)
        await feed._committed([obs(7, now - timedelta(minutes=2), 1.0), obs(7, now, 2.0),
                               obs(8, now - timedelta(days=3), 5.0), obs(9, now, 3.0, tenant=2)])
        out = []
        while not listener.queue.empty():
            out.append(listener.queue.get_nowait())
        return out

    messages = asyncio.run(run())
    assert len(messages) == 1 and messages[0].kind == "values"
    assert [[d, r] for d, _t, r in messages[0].data] == [[7, 2.0]]
