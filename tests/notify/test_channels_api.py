"""Channels through the API: create, list, read, change, delete, and clear 400s."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import create_tenant
from notify.helpers import Platform

AREA = {"type": "Polygon", "coordinates": [[[9.0, 48.0], [9.5, 48.0], [9.5, 49.0], [9.0, 49.0],
                                            [9.0, 48.0]]]}


def test_create_read_change_delete(platform: Platform) -> None:
    client = platform.client
    created = platform.channel({"name": "leitstelle", "type": "webhook",
                                "url": "https://ops.example.de/hook", "minSeverity": "moderate",
                                "area": AREA, "quietPeriods": [{"from": "22:00", "to": "06:00"}],
                                "remindEvery": "PT30M"})
    secret = created.pop("secret")
    assert len(secret) >= 40
    assert created["minSeverity"] == "moderate"
    assert created["timezone"] == "Europe/Berlin"
    shown = client.get("/api/channels/leitstelle").json()
    assert "secret" not in shown
    assert shown == created
    assert [c["name"] for c in client.get("/api/channels").json()["value"]] == ["leitstelle"]

    changed = client.patch("/api/channels/leitstelle", json={"minSeverity": "severe", "area": None})
    assert changed.status_code == 200, changed.text
    assert changed.json()["minSeverity"] == "severe"
    assert "area" not in changed.json()
    replaced = client.put("/api/channels/leitstelle",
                          json={"type": "webhook", "url": "http://127.0.0.1:9/x"})
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["minSeverity"] == "minor"
    renewed = client.post("/api/channels/leitstelle/secret")
    assert renewed.status_code == 200 and renewed.json()["secret"] != secret

    assert client.post("/api/channels", json={"name": "leitstelle", "type": "webhook",
                                              "url": "https://x.example"}).status_code == 409
    assert client.delete("/api/channels/leitstelle").status_code == 204
    assert client.get("/api/channels/leitstelle").status_code == 404
    assert client.delete("/api/channels/leitstelle").status_code == 404


@pytest.mark.parametrize("body, words", [
    ([], "JSON object"),
    ({"name": "x", "type": "pager"}, "type must be one of"),
    ({"name": "Bad Name", "type": "webhook", "url": "https://x.example"}, "name must be"),
    ({"name": "a", "type": "webhook"}, "url must be"),
    ({"name": "a", "type": "webhook", "url": "ftp://x.example"}, "url must be"),
    ({"name": "a", "type": "webhook", "url": "https://x.example", "colour": 1}, "no member 'colour'"),
    ({"name": "a", "type": "webhook", "url": "https://x.example", "minSeverity": "high"},
     "minSeverity must be"),
    ({"name": "a", "type": "webhook", "url": "https://x.example",
      "area": {"type": "Point", "coordinates": [9, 48]}}, "Polygon"),
    ({"name": "a", "type": "webhook", "url": "https://x.example",
      "area": {"type": "Polygon", "coordinates": [[9, 48]]}}, "area"),
    ({"name": "a", "type": "webhook", "url": "https://x.example", "timezone": "Mars/Base"},
     "timezone"),
    ({"name": "a", "type": "webhook", "url": "https://x.example",
      "quietPeriods": [{"from": "25:00", "to": "06:00"}]}, "quietPeriods[0].from"),
    ({"name": "a", "type": "webhook", "url": "https://x.example",
      "quietPeriods": [{"from": "22:00", "to": "06:00", "days": ["monday"]}]}, "days"),
    ({"name": "a", "type": "webhook", "url": "https://x.example", "remindEvery": 30},
     "remindEvery"),
    ({"name": "a", "type": "webhook", "url": "https://x.example", "remindEvery": "P1M"},
     "remindEvery"),
    ({"name": "a", "type": "webhook", "url": "https://x.example", "events": ["exploded"]},
     "events"),
    ({"name": "a", "type": "mqtt", "topic": "alerts/#"}, "broker"),
    ({"name": "a", "type": "email", "to": ["ops@example.de"]}, "SMTP"),
    ({"name": "a", "type": "cap", "cap": {"sender": "a b"}}, "cap.sender"),
    ({"name": "a", "type": "cap", "cap": {"category": "Weather"}}, "cap.category"),
    ({"name": "a", "type": "cap", "cap": {"expiresHours": 0}}, "cap.expiresHours"),
])
def test_invalid_channels_are_400(platform: Platform, body: Any, words: str) -> None:
    response = platform.client.post("/api/channels", json=body)
    assert response.status_code == 400, response.text
    error = response.json()
    assert error["code"] == "bad_request"
    assert words in error["message"]
    assert platform.client.get("/api/channels").json()["value"] == []


def test_channels_belong_to_their_tenant(platform: Platform) -> None:
    create_tenant(platform.app.state.settings, "nachbarort")
    platform.channel({"name": "feed", "type": "cap"}, tenant="/t/nachbarort")
    assert platform.client.get("/api/channels").json()["value"] == []
    assert platform.client.get("/api/channels/feed").status_code == 404
    found = platform.client.get("/t/nachbarort/api/channels/feed").json()
    assert found["cap"]["sender"] == "quartier@localhost"
    assert platform.client.get("/t/nowhere/api/channels").status_code == 404
