"""Lighting commands and saved groups: one Task per lamp of a target, in one transaction."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import Api, TestClient, capability_body

LAMPS = [("SK-01", 1, "Altstadt"), ("SK-01", 1, "Altstadt"), ("SK-01", 2, "Altstadt"),
         ("SK-02", 1, "Nord")]


def lamps(api: Api) -> list[int]:
    out = []
    for i, (cabinet, circuit, district) in enumerate(LAMPS):
        out.append(api.create("Things", {
            "name": f"Leuchte {cabinet}-{i:02d}", "description": "luminaire",
            "properties": {"kind": "streetlight", "cabinet": cabinet, "circuit": circuit,
                           "district": district},
            # Sent over MQTT, which these apps lack: the Tasks stay "created".
            "TaskingCapabilities": [capability_body(mqtt={"topic": f"lamps/{i}"})]}))
    return out


def command(client: TestClient, target: dict[str, Any], **parameters: Any) -> Any:
    return client.post("/api/lighting/commands", json={"target": target, "parameters": parameters})


def tasked(answer: Any) -> list[int]:
    return sorted(t["thingId"] for t in answer.json()["tasks"])


def test_targets_make_one_task_per_lamp(client: TestClient, api: Api) -> None:
    ids = lamps(api)
    one = command(client, {"thing": ids[3]}, switch="on")
    assert one.status_code == 201, one.text
    assert tasked(one) == [ids[3]]
    assert tasked(command(client, {"cabinet": "SK-01", "circuit": "1"}, dim=50)) == ids[:2]
    assert tasked(command(client, {"district": "Altstadt"}, switch="off")) == ids[:3]
    stored = api.ok("Tasks", **{"$filter": "taskingParameters/dim eq 50", "$count": "true"})
    assert stored["@iot.count"] == 2
    assert api.ok("Tasks", **{"$count": "true"})["@iot.count"] == 6


def test_saved_groups_by_ids_and_by_filter(client: TestClient, api: Api) -> None:
    ids = lamps(api)
    assert client.post("/api/lighting/groups",
                       json={"name": "Markt", "things": [ids[0], ids[3]]}).status_code == 201
    assert client.post("/api/lighting/groups", json={
        "name": "Nord", "filter": "properties/district eq 'Nord'"}).status_code == 201
    assert client.post("/api/lighting/groups",
                       json={"name": "Markt", "things": [ids[1]]}).status_code == 409
    assert [g["name"] for g in client.get("/api/lighting/groups").json()["value"]] == ["Markt", "Nord"]
    assert tasked(command(client, {"group": "Markt"}, switch="on", dim=80)) == [ids[0], ids[3]]
    assert tasked(command(client, {"group": "Nord"}, switch="off")) == [ids[3]]
    assert client.delete("/api/lighting/groups/Markt").status_code == 204
    assert client.get("/api/lighting/groups/Markt").status_code == 404
    assert command(client, {"group": "Markt"}, switch="on").status_code == 404


def test_only_lamps_are_commanded(client: TestClient, api: Api) -> None:
    ids = lamps(api)
    pump = api.create("Things", {
        "name": "Pumpe", "description": "a pump with a switch, not a lamp",
        "properties": {"kind": "pump", "district": "Altstadt"},
        "TaskingCapabilities": [capability_body(mqtt={"topic": "pump"})]})
    refused = command(client, {"thing": pump}, switch="on")
    assert refused.status_code == 404, refused.text
    assert "properties/kind is 'streetlight'" in refused.json()["message"]
    assert client.post("/api/lighting/groups",
                       json={"name": "Gemischt", "things": [ids[0], pump]}).status_code == 201
    assert tasked(command(client, {"group": "Gemischt"}, switch="on")) == [ids[0]]
    assert client.post("/api/lighting/groups",
                       json={"name": "Pumpen", "things": [pump]}).status_code == 201
    empty = command(client, {"group": "Pumpen"}, switch="on")
    assert empty.status_code == 404, empty.text
    assert empty.json()["message"].startswith('no lamps at {"group": "Pumpen"}')
    assert api.ok("Tasks", **{"$count": "true"})["@iot.count"] == 1


@pytest.mark.parametrize("body,status,message", [
    ({"target": {"district": "Altstadt"}, "parameters": {"dim": 150}}, 400, "0.0..100.0"),
    ({"target": {"district": "Altstadt"}, "parameters": {"switch": "bright"}}, 400, "'on', 'off'"),
    ({"target": {"district": "Altstadt"}, "parameters": {}}, 400, "parameters"),
    ({"target": {"street": "Markt"}, "parameters": {"switch": "on"}}, 400, "target is"),
    ({"target": {"district": "Mond"}, "parameters": {"switch": "on"}}, 404, "no lamps"),
    ({"target": {"thing": 999999}, "parameters": {"switch": "on"}}, 404, "no lamp with @iot.id 999999"),
    ({"target": {"group": "nirgends"}, "parameters": {"switch": "on"}}, 404, "no lighting group"),
    ([], 400, "a command is"),
])
def test_a_bad_command_writes_no_task(client: TestClient, api: Api, body: Any, status: int,
                                      message: str) -> None:
    lamps(api)
    response = client.post("/api/lighting/commands", json=body)
    assert response.status_code == status, response.text
    assert message in response.json()["message"]
    assert api.ok("Tasks", **{"$count": "true"})["@iot.count"] == 0


@pytest.mark.parametrize("body,message", [
    ({"name": "x", "filter": "properties/district eq"}, "filter"),
    ({"name": "x"}, "either things"),
    ({"name": "", "things": [1]}, "name"),
    ({"name": "x", "things": ["a"]}, "things[]"),
])
def test_bad_groups_are_400(client: TestClient, body: Any, message: str) -> None:
    response = client.post("/api/lighting/groups", json=body)
    assert response.status_code == 400, response.text
    assert message in response.json()["message"]
