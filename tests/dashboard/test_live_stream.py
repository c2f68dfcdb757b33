"""The live stream (/api/live, Server-Sent Events) against a real server: values and
alert changes are pushed, and a reconnect that names its last event catches up."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest

from conftest import admin_key, full_thing_body, serving, sse_events
from quartier.app import build_app
from quartier.settings import Settings


def _until(events: Iterator[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    seen = []
    for event in events:
        seen.append(event)
        if event["event"] == kind:
            return seen
    raise AssertionError(f"the stream ended before a {kind!r} event: {seen}")


@pytest.fixture
def base(tmp_path: Path) -> Iterator[tuple[str, str]]:
    app = build_app(Settings.validated({"data_dir": tmp_path}))
    with serving(app) as url:
        yield url, admin_key(app)


def test_values_and_alerts_are_pushed_and_a_reconnect_catches_up(base: tuple[str, str]) -> None:
    url, key = base
    client = httpx.Client(base_url=url, timeout=20, headers={"Authorization": f"Bearer {key}"})
    response = client.post("/v1.1/Things", json=full_thing_body())
    thing = int(response.headers["location"].rsplit("(", 1)[1].rstrip(")"))
    datastream = client.get(f"/v1.1/Things({thing})/Datastreams").json()["value"][0]["@iot.id"]
    rule = {"name": "hoch", "target": {"datastream": datastream}, "severity": "severe",
            "condition": {"type": "threshold", "above": 100}}
    assert client.post("/api/rules", json=rule).status_code == 201

    with client.stream("GET", "/api/live") as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        events = sse_events(stream)
        hello = _until(events, "hello")[-1]
        now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        posted = client.post(f"/v1.1/Datastreams({datastream})/Observations",
                             json={"phenomenonTime": now, "result": 150})
        assert posted.status_code == 201
        seen = _until(events, "alert")
    values = [e["data"] for e in seen if e["event"] == "values"]
    assert [[d, r] for batch in values for d, _t, r in batch] == [[datastream, 150]]
    opened = seen[-1]
    assert opened["id"] > hello["id"] and opened["data"]["kind"] == "opened"
    assert opened["data"]["alert"]["thingId"] == thing and opened["data"]["alert"]["status"] == "open"

    # While nobody listens, someone acknowledges it; the reconnect hears of it first.
    alert_id = opened["data"]["alertId"]
    assert client.post(f"/api/alerts/{alert_id}/acknowledge", json={"by": "M. Weber"}).status_code == 200
    with client.stream("GET", "/api/live", headers={"Last-Event-ID": str(opened["id"])}) as stream:
        seen = _until(sse_events(stream), "hello")
    assert [(e["event"], e["data"].get("kind")) for e in seen] == [("alert", "acknowledged"), ("hello", None)]
    assert seen[0]["data"]["alert"]["acknowledgedBy"] == "M. Weber"
    assert seen[1]["id"] == seen[0]["id"]  # what the next reconnect names

    # Without Last-Event-ID, no history: just the greeting.
    with client.stream("GET", "/api/live") as stream:
        assert [e["event"] for e in _until(sse_events(stream), "hello")] == ["hello"]
    assert client.get("/api/live", headers={"Last-Event-ID": "x"}).status_code == 400
    assert client.get("/t/nowhere/api/live").status_code == 404
    client.close()
