"""The tenant isolation matrix, streaming paths: MQTT (real Mosquitto) and the live
stream (SSE, a real server). A tenant's announcements go only to its own topics, an
Observation published under one tenant's topics cannot reach another tenant's
Datastream, and a live stream carries no value or alert of another tenant."""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest

from conftest import Api, admin_key, create_tenant, full_thing_body, serving, sse_events
from quartier.app import build_app
from quartier.settings import Settings
from test_mqtt import (  # noqa: F401  (fixtures)
    MqttClient,
    count,
    make_settings,
    running,
    shared_broker,
    wait_until,
)
from test_tenant_sharing import create_region

SQL_BACKENDS = pytest.mark.parametrize("backend", ["sqlite", "postgresql"])


@SQL_BACKENDS
def test_mqtt_stays_inside_each_tenant(
    backend: str, make_settings: Callable[..., Settings], shared_broker: None,  # noqa: F811
) -> None:
    settings = make_settings(backend)
    prefix = settings.mqtt_prefix
    create_tenant(settings, "nachbar")
    town_root, other_root = f"{prefix}v1.1/", f"{prefix}t/nachbar/v1.1/"
    with running(settings) as client, MqttClient(filters=[f"{prefix}#"]) as listener:
        town, other = Api(client), Api(client, "/t/nachbar/v1.1")
        town_thing = town.create("Things", full_thing_body("Pegel Alpha"))
        town_ds = town.ok(f"Things({town_thing})/Datastreams")["value"][0]["@iot.id"]
        other_thing = other.create("Things", full_thing_body("Pegel Beta"))
        other_ds = other.ok(f"Things({other_thing})/Datastreams")["value"][0]["@iot.id"]
        listener.wait_count(f"{other_root}Things({other_thing})/Datastreams", 1)

        # Published under one tenant's topics, naming the other's Datastream: refused, and
        # kept as a dead letter of the tenant whose topic it came on.
        with MqttClient() as sensor:
            sensor.publish(f"{other_root}Datastreams({town_ds})/Observations", {"result": 1})
            sensor.publish(f"{town_root}Datastreams({other_ds})/Observations", {"result": 2})
            sensor.publish(f"{other_root}Observations",
                           {"result": 3, "Datastream": {"@iot.id": town_ds}})
        letters = wait_until(lambda: len(client.get("/t/nachbar/api/dead-letters").json()["value"]) == 2
                             and client.get("/api/dead-letters").json()["value"], "the dead letters")
        assert [json.loads(x["payload"])["result"] for x in letters] == [2]
        assert count(town) == 0 and count(other) == 0

        # Each tenant's changes are announced on its own topics only.
        with MqttClient() as sensor:
            sensor.publish(f"{town_root}Datastreams({town_ds})/Observations", {"result": 10})
            sensor.publish(f"{other_root}Datastreams({other_ds})/Observations", {"result": 20})
        listener.wait_count(f"{town_root}Observations", 1)
        listener.wait_count(f"{other_root}Observations", 1)
        for topic, payload in listener.messages():
            text = payload.decode()
            if "@iot.selfLink" not in text:
                continue  # what the sensors published, not an announcement
            if topic.startswith(other_root):
                assert "Alpha" not in text and "/t/nachbar/v1.1/" in text, (topic, text)
            else:
                assert topic.startswith(town_root), topic
                assert "Beta" not in text and "/t/nachbar/" not in text, (topic, text)
        assert town.ok("Observations")["value"][0]["result"] == 10
        assert other.ok("Observations")["value"][0]["result"] == 20


def test_live_stream_carries_only_the_tenants_values_and_alerts(tmp_path: Path) -> None:
    settings = Settings.validated({"data_dir": tmp_path})
    create_tenant(settings, "nachbar")
    app = build_app(settings)
    keys = {"": admin_key(app), "/t/nachbar": admin_key(app, "nachbar")}
    with serving(app) as base, httpx.Client(base_url=base, timeout=20) as client:
        streams = {}
        for prefix, name in (("", "Pegel Alpha"), ("/t/nachbar", "Pegel Beta")):
            client.headers["Authorization"] = f"Bearer {keys[prefix]}"
            response = client.post(f"{prefix}/v1.1/Things", json=full_thing_body(name))
            thing = int(response.headers["location"].rsplit("(", 1)[1].rstrip(")"))
            ds = client.get(f"{prefix}/v1.1/Things({thing})/Datastreams").json()["value"][0]["@iot.id"]
            rule = {"name": "hoch", "target": {"datastream": ds}, "severity": "severe",
                    "condition": {"type": "threshold", "above": 100}}
            assert client.post(f"{prefix}/api/rules", json=rule).status_code == 201
            streams[prefix] = ds
        with ExitStack() as opened:
            listening = {prefix: sse_events(opened.enter_context(client.stream(
                "GET", f"{prefix}/api/live", headers={"Authorization": f"Bearer {keys[prefix]}"})))
                         for prefix in streams}
            for events in listening.values():
                assert next(events)["event"] == "hello"
            now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
            for prefix, ds in streams.items():
                client.headers["Authorization"] = f"Bearer {keys[prefix]}"
                posted = client.post(f"{prefix}/v1.1/Datastreams({ds})/Observations",
                                     json={"phenomenonTime": now, "result": 150})
                assert posted.status_code == 201
            for prefix, events in listening.items():
                seen = []
                for event in events:  # up to its own alert, which comes after both values
                    seen.append(event)
                    if event["event"] == "alert":
                        break
                values = [d for e in seen if e["event"] == "values" for d, _t, _r in e["data"]]
                alerts = [e["data"]["alert"]["datastreamId"] for e in seen if e["event"] == "alert"]
                assert values == [streams[prefix]], seen
                assert alerts == [streams[prefix]], seen


def test_live_stream_tells_anonymous_pages_public_data_and_a_region_what_was_granted(
        tmp_path: Path) -> None:
    settings = Settings.validated({"data_dir": tmp_path})
    create_region(settings, "kreis")
    app = build_app(settings)
    admin = {"Authorization": f"Bearer {admin_key(app)}"}
    region = {"Authorization": f"Bearer {admin_key(app, 'kreis', role='viewer')}"}
    with serving(app) as base, httpx.Client(base_url=base, timeout=20, headers=admin) as client:
        streams: dict[str, int] = {}
        for label in ("Offen", "Geheim", "Geteilt"):
            response = client.post("/v1.1/Things", json=full_thing_body(f"{label} Pegel"))
            thing = int(response.headers["location"].rsplit("(", 1)[1].rstrip(")"))
            streams[label] = client.get(f"/v1.1/Things({thing})/Datastreams").json()["value"][0]["@iot.id"]
            if label != "Offen":
                assert client.put(f"/api/visibility/Things/{thing}",
                                  json={"visibility": "internal"}).status_code == 200
            if label == "Geteilt":
                grant = {"region": "kreis", "entityType": "Thing", "entityId": thing}
                assert client.post("/api/grants", json=grant).status_code == 201
            rule = {"name": f"hoch-{label}", "target": {"datastream": streams[label]},
                    "severity": "severe", "condition": {"type": "threshold", "above": 100}}
            assert client.post("/api/rules", json=rule).status_code == 201
        readers = {"admin": ("/api/live", admin), "anonymous": ("/api/live", {}),
                   "region": ("/t/kreis/api/live", region)}
        wanted = {"admin": {"Offen", "Geheim", "Geteilt"}, "anonymous": {"Offen"}, "region": {"Geteilt"}}
        wanted_ids = {who: {streams[label] for label in labels} for who, labels in wanted.items()}
        with ExitStack() as opened:
            listening = {who: sse_events(opened.enter_context(client.stream(
                "GET", path, headers={"Authorization": ""} | headers)))
                for who, (path, headers) in readers.items()}
            hello = {who: next(events) for who, events in listening.items()}
            assert {e["event"] for e in hello.values()} == {"hello"}
            now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
            batch = [{"Datastream": {"@iot.id": ds}, "components": ["phenomenonTime", "result"],
                      "dataArray": [[now, 150]]} for ds in streams.values()]
            assert client.post("/v1.1/CreateObservations", json=batch).status_code == 201
            for who, events in listening.items():
                seen: list[dict[str, Any]] = []
                alerted: set[int] = set()
                for event in events:  # up to the alerts it should hear of, live
                    seen.append(event)
                    if event["event"] == "alert":
                        alerted.add(event["data"]["alert"]["datastreamId"])
                    if alerted == wanted_ids[who]:
                        break
                values = {d for e in seen if e["event"] == "values" for d, _t, _r in e["data"]}
                assert values == wanted_ids[who], (who, seen)
                assert alerted == wanted_ids[who], (who, seen)
        # A reconnect that names the greeting's id catches up on exactly its alerts.
        for who, (path, headers) in readers.items():
            catch_up = {"Authorization": "", "Last-Event-ID": str(hello[who]["id"])} | headers
            with client.stream("GET", path, headers=catch_up) as stream:
                missed = []
                for event in sse_events(stream):
                    if event["event"] == "hello":
                        break
                    missed.append(event["data"]["alert"]["datastreamId"])
            assert sorted(missed) == sorted(wanted_ids[who]), (who, missed)
