"""Part 2 entities through the generic SensorThings handlers, on every backend."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import LAMP_PARAMETERS, Api, actuator_body, capability_body, thing_body


def _lamp(api: Api) -> tuple[int, int]:
    # Sent over MQTT, which these apps lack: the Tasks wait for a retry, still "created".
    held = capability_body(mqtt={"topic": "lamps/1"})
    thing = api.create("Things", {**thing_body("Leuchte 1"), "TaskingCapabilities": [held]})
    capability = api.ok(f"Things({thing})/TaskingCapabilities")["value"][0]["@iot.id"]
    return thing, capability


def test_deep_insert_navigation_and_expand(api: Api) -> None:
    thing, capability = _lamp(api)
    task = api.create(f"TaskingCapabilities({capability})/Tasks",
                      {"taskingParameters": {"switch": "on", "dim": 40}})
    body = api.ok(f"Tasks({task})", **{"$expand": "TaskingCapability($expand=Thing,Actuator)"})
    assert body["taskingParameters"] == {"switch": "on", "dim": 40}
    assert body["status"] == "created" and body["creationTime"] == body["statusTime"]
    assert body["TaskingCapability"]["Thing"]["@iot.id"] == thing
    assert body["TaskingCapability"]["Actuator"]["name"] == "Luminaire driver"
    actuator = body["TaskingCapability"]["Actuator"]["@iot.id"]
    assert api.ok(f"Actuators({actuator})/TaskingCapabilities")["value"][0]["@iot.id"] == capability
    assert api.ok(f"Things({thing})/TaskingCapabilities({capability})/Tasks",
                  **{"$count": "true"})["@iot.count"] == 1
    root = api.ok("")
    assert {"Tasks", "TaskingCapabilities", "Actuators"} <= {v["name"] for v in root["value"]}


def test_filter_select_orderby_by_status(api: Api) -> None:
    _, capability = _lamp(api)
    for level in (10, 20, 30):
        api.create("Tasks", {"taskingParameters": {"dim": level},
                             "TaskingCapability": {"@iot.id": capability}})
    page = api.ok("Tasks", **{"$filter": "status eq 'created' and taskingParameters/dim gt 15",
                              "$select": "id,taskingParameters", "$orderby": "id desc"})
    assert [t["taskingParameters"]["dim"] for t in page["value"]] == [30, 20]
    assert set(page["value"][0]) == {"@iot.id", "@iot.selfLink", "taskingParameters"}
    assert api.ok("Tasks", **{"$filter": "status eq 'failed'"})["value"] == []


def test_status_is_kept_by_the_server(api: Api) -> None:
    _, capability = _lamp(api)
    task = api.create(f"TaskingCapabilities({capability})/Tasks",
                      {"taskingParameters": {"switch": "off"}, "status": "confirmed"})
    assert api.ok(f"Tasks({task})")["status"] == "created"
    response = api.client.patch(api.url(f"Tasks({task})"), json={"taskingParameters": {"dim": 1}})
    assert response.status_code == 400, response.text
    assert "cannot change" in response.json()["message"]


@pytest.mark.parametrize("parameters,message", [
    ({"switch": "maybe"}, "Task.taskingParameters.switch must be one of 'on', 'off'"),
    ({"dim": 101}, "Task.taskingParameters.dim must be 0.0..100.0, not 101"),
    ({"dim": "50"}, "Task.taskingParameters.dim must be a number"),
    ({"steps": 3}, "Task.taskingParameters.steps must be 1 or 2 or 4, not 3"),
    ({"steps": 1.5}, "whole number"),
    ({"note": "ABC"}, "does not match"),
    ({"test": 1}, "must be true or false"),
    ({"colour": "red"}, "has no parameter 'colour'"),
    ({}, "sets no parameter"),
    ("on", "must be a JSON object"),
])
def test_bad_task_is_400_and_writes_nothing(api: Api, parameters: Any, message: str) -> None:
    _, capability = _lamp(api)
    response = api.post(f"TaskingCapabilities({capability})/Tasks",
                        {"taskingParameters": parameters})
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "bad_request"
    assert message in response.json()["message"]
    assert api.ok("Tasks", **{"$count": "true"})["@iot.count"] == 0


def test_bad_task_in_a_deep_insert_undoes_the_whole_body(api: Api) -> None:
    body = {**thing_body("Leuchte 2"), "TaskingCapabilities": [
        {**capability_body(), "Tasks": [{"taskingParameters": {"dim": 20}},
                                        {"taskingParameters": {"dim": -1}}]}]}
    response = api.post("Things", body)
    assert response.status_code == 400, response.text
    for collection in ("Things", "TaskingCapabilities", "Actuators", "Tasks"):
        assert api.ok(collection)["value"] == [], collection


@pytest.mark.parametrize("record,message", [
    ({"type": "DataArray"}, "must be a SWE Common DataRecord"),
    ({"type": "DataRecord", "field": []}, "non-empty array"),
    ({"type": "DataRecord", "field": [{"name": "dim", "type": "Quantity"}]}, "needs a uom"),
    ({"type": "DataRecord", "field": [{"name": "x", "type": "Vector"}]}, "type must be one of"),
    ({"type": "DataRecord", "field": [{"name": "x", "type": "Boolean"},
                                      {"name": "x", "type": "Boolean"}]}, "used twice"),
    ({"type": "DataRecord", "field": [{"name": "x", "type": "Count",
                                       "constraint": {"type": "AllowedValues",
                                                      "interval": [[5, 1]]}}]}, "[min, max]"),
    ({"type": "DataRecord", "field": [{"name": "x", "type": "Text",
                                       "constraint": {"type": "AllowedTokens",
                                                      "pattern": "("}}]}, "no regular expression"),
])
def test_bad_data_record_is_400(api: Api, record: Any, message: str) -> None:
    thing = api.create("Things", thing_body())
    body = {**capability_body(thing), "taskingParameters": record}
    response = api.post("TaskingCapabilities", body)
    assert response.status_code == 400, response.text
    assert message in response.json()["message"]
    assert api.ok("Actuators")["value"] == []


def test_actuator_crud_and_encoding_free(api: Api) -> None:
    actuator = api.create("Actuators", actuator_body())
    response = api.client.patch(api.url(f"Actuators({actuator})"), json={"name": "Relay"})
    assert response.status_code == 200 and response.json()["name"] == "Relay"
    assert api.client.delete(api.url(f"Actuators({actuator})")).status_code == 200
    assert api.get(f"Actuators({actuator})").status_code == 404


def test_capability_needs_thing_and_actuator(api: Api) -> None:
    response = api.post("TaskingCapabilities", {"name": "x", "description": "y",
                                                "taskingParameters": LAMP_PARAMETERS})
    assert response.status_code == 400
    assert "needs a Thing" in response.json()["message"]
