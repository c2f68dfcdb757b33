"""Tasks over MQTT: created by publishing them, announced on their topics, delivered to a
capability's topic, and refused into a dead letter when they do not fit."""

from __future__ import annotations

import json
from collections.abc import Callable

from conftest import Api, capability_body, thing_body
from quartier.settings import Settings
from test_mqtt import MqttClient, make_settings, running, shared_broker, wait_until

__all__ = ["make_settings", "shared_broker"]  # fixtures used by name


def test_tasks_published_over_mqtt_are_created_sent_and_announced(
    backend: str, make_settings: Callable[..., Settings], shared_broker: None,
) -> None:
    settings = make_settings(backend)
    prefix = settings.mqtt_prefix
    root = f"{prefix}v1.1/"
    with running(settings) as client, MqttClient(
            filters=[f"{root}Tasks", f"{prefix}lamps/7"]) as operator:
        api = Api(client)
        thing = api.create("Things", {**thing_body("Leuchte 7"), "TaskingCapabilities": [
            capability_body(mqtt={"topic": "lamps/7"})]})
        capability = api.ok(f"Things({thing})/TaskingCapabilities")["value"][0]["@iot.id"]
        operator.publish(f"{root}TaskingCapabilities({capability})/Tasks",
                         {"taskingParameters": {"switch": "on"}})
        operator.publish(f"{root}Tasks", {"taskingParameters": {"dim": 20},
                                          "TaskingCapability": {"@iot.id": capability}})
        operator.publish(f"{root}Tasks", {"taskingParameters": {"dim": 200},
                                          "TaskingCapability": {"@iot.id": capability}})
        wait_until(lambda: len(api.ok("Tasks")["value"]) == 2, "two Tasks from MQTT")
        announced = operator.wait_count(f"{root}Tasks", 2)
        assert sorted(json.loads(p)["taskingParameters"].get("dim", 0) for _, p in announced) == [0, 20]
        delivered = operator.wait_count(f"{prefix}lamps/7", 2)
        # Messages are stored concurrently: their Tasks' ids need not follow their order.
        commands = [json.loads(p) for _, p in delivered]
        assert sorted(json.dumps(c["taskingParameters"]) for c in commands) == [
            '{"dim": 20}', '{"switch": "on"}']
        assert sorted(c["task"] for c in commands) == sorted(
            t["@iot.id"] for t in api.ok("Tasks")["value"])
        assert {c["thing"] for c in commands} == {thing}
        wait_until(lambda: {t["status"] for t in api.ok("Tasks")["value"]} == {"sent"},
                   "both Tasks sent")
        letters = wait_until(lambda: client.get("/api/dead-letters").json()["value"],
                             "the bad Task kept as a dead letter")
        assert "0.0..100.0" in letters[0]["reason"]
