"""Tasks on their way to devices: a local receiver checks each network server's documented
downlink request; uplinks confirm Tasks, silence fails them; on every backend."""

from __future__ import annotations

import base64
import dataclasses
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from conftest import TestClient, make_app, serving
from quartier.settings import Settings

EUI = "70B3D57ED00A0001"
KEY = "NNSXS.SECRET-API-KEY-0123456789"
MEASUREMENT = "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement"
CATEGORY = "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_CategoryObservation"
LAMP_PROFILE = {
    "name": "demo-streetlight",
    "fields": {
        "state": {"observedProperty": {"name": "Lamp state"}, "observationType": CATEGORY},
        "dimming": {"observedProperty": {"name": "Dimming level"},
                    "unitOfMeasurement": {"name": "percent", "symbol": "%", "definition": "%"}},
    },
}
PARAMETERS = {"type": "DataRecord", "field": [
    {"name": "switch", "type": "Category", "optional": True,
     "constraint": {"type": "AllowedTokens", "value": ["on", "off"]}},
    {"name": "dim", "type": "Quantity", "optional": True, "uom": {"code": "%"},
     "constraint": {"type": "AllowedValues", "interval": [[0, 100]]}}]}


class Receiver:
    """A network server's downlink API that keeps what it was sent and answers 401 to a
    wrong key, as the real ones do."""

    def __init__(self, header: str) -> None:
        self.header = header
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.app = Starlette(routes=[Route("/{path:path}", self.take, methods=["POST"])])

    async def take(self, request: Request) -> JSONResponse:
        if request.headers.get(self.header) != f"Bearer {KEY}":
            return JSONResponse({"code": 16, "message": "unauthenticated"}, 401)
        if request.headers.get("content-type") != "application/json":
            return JSONResponse({"message": "JSON only"}, 415)
        self.requests.append((request.url.path, await request.json()))
        return JSONResponse({})


def wait_for(check: Callable[[], Any], seconds: float = 15.0) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"not within {seconds} s: {check}")
        time.sleep(0.05)


def lamp(client: TestClient, network: str, url: str, **downlink: Any) -> tuple[int, str]:
    """A registered lamp with its TaskingCapability and an integration whose downlinks go
    to ``url``; returns (TaskingCapability id, webhook secret)."""
    assert client.post("/api/device-profiles", json=LAMP_PROFILE).status_code == 201
    registered = client.post("/api/devices", json={
        "devEui": EUI, "name": "leuchte-sk01-07", "profile": "demo-streetlight",
        "location": {"latitude": 50.7, "longitude": 7.1}})
    assert registered.status_code == 201, registered.text
    thing = registered.json()["thingId"] if "thingId" in registered.json() else \
        registered.json()["value"][0]["thingId"]
    body = {"name": "stadt", "network": network,
            "downlink": {"url": url, "apiKey": KEY, **downlink}}
    created = client.post("/api/lorawan/integrations", json=body)
    assert created.status_code == 201, created.text
    assert KEY not in created.text
    shown = client.get("/api/lorawan/integrations/stadt")
    assert KEY not in shown.text and shown.json()["downlink"]["apiKeySet"] is True
    response = client.post("/v1.1/TaskingCapabilities", json={
        "name": "Switch and dim", "description": "the lamp's output", "taskingParameters": PARAMETERS,
        "Thing": {"@iot.id": thing},
        "Actuator": {"name": "Driver", "description": "luminaire driver",
                     "encodingType": "text/plain", "metadata": "DALI"}})
    assert response.status_code == 201, response.text
    return int(response.json()["@iot.id"]), str(created.json()["secret"])


def task_status(client: TestClient, task: int) -> dict[str, Any]:
    return dict(client.get(f"/v1.1/Tasks({task})").json())


@pytest.fixture
def quick(settings: Settings) -> Settings:
    return dataclasses.replace(settings, task_confirm_seconds=2, notify_retry_seconds=1,
                               task_max_attempts=2)


@pytest.fixture
def app_client(quick: Settings) -> Iterator[TestClient]:
    with TestClient(make_app(quick), raise_server_exceptions=False) as test_client:
        yield test_client


def test_tts_downlink_then_the_uplink_confirms(app_client: TestClient) -> None:
    receiver = Receiver("authorization")
    with serving(receiver.app) as url:
        capability, secret = lamp(app_client, "tts", url, application="stadt-licht",
                                  webhook="quartier", priority="HIGH")
        created = app_client.post(f"/v1.1/TaskingCapabilities({capability})/Tasks",
                                  json={"taskingParameters": {"switch": "on", "dim": 60}})
        assert created.status_code == 201, created.text
        task = created.json()["@iot.id"]
        wait_for(lambda: receiver.requests)
        wait_for(lambda: task_status(app_client, task)["status"] == "sent")
    path, body = receiver.requests[0]
    assert path == ("/api/v3/as/applications/stadt-licht/webhooks/quartier/devices/"
                    f"eui-{EUI.lower()}/down/push")
    assert body == {"downlinks": [{"f_port": 10, "priority": "HIGH",
                                   "frm_payload": base64.b64encode(bytes([1, 1, 60])).decode()}]}
    assert len(receiver.requests) == 1
    uplink = {"end_device_ids": {"device_id": "leuchte", "dev_eui": EUI,
                                 "application_ids": {"application_id": "stadt-licht"}},
              "correlation_ids": ["as:up:1"], "received_at": "2026-12-01T18:00:00Z",
              "uplink_message": {"f_port": 2, "f_cnt": 7, "frm_payload": "",
                                 "session_key_id": "AXBSH1Pk6Z3nAT6bzBSsm7Y=",
                                 "decoded_payload": {"state": "on", "dimming": 60},
                                 "received_at": "2026-12-01T18:00:00Z"}}
    stored = app_client.post("/api/lorawan/stadt/uplink", json=uplink,
                             headers={"Authorization": f"Bearer {secret}"})
    assert stored.status_code in (200, 201), stored.text
    done = wait_for(lambda: (s := task_status(app_client, task))["status"] == "confirmed" and s)
    assert done["statusTime"] >= done["creationTime"]
    listed = app_client.get("/v1.1/Tasks", params={"$filter": "status eq 'confirmed'"}).json()
    assert [t["@iot.id"] for t in listed["value"]] == [task]


def test_an_uplink_confirms_a_task_this_worker_did_not_send(app_client: TestClient) -> None:
    """With several workers, the uplink may reach one that did not send the Task and so
    does not know that a Task waits: its values wait for the next full check, which
    reads the sent Tasks from the database and confirms it (within the poll interval)."""
    receiver = Receiver("authorization")
    with serving(receiver.app) as url:
        capability, secret = lamp(app_client, "tts", url, application="stadt-licht",
                                  webhook="quartier")
        created = app_client.post(f"/v1.1/TaskingCapabilities({capability})/Tasks",
                                  json={"taskingParameters": {"switch": "off"}})
        task = created.json()["@iot.id"]
        wait_for(lambda: task_status(app_client, task)["status"] == "sent")
    app = getattr(app_client.app, "app", app_client.app)  # unwrapped on the archived backend
    confirmations = app.state.tasks.confirmations
    confirmations.awaiting = False  # as in a worker that sent nothing
    uplink = {"end_device_ids": {"device_id": "leuchte", "dev_eui": EUI,
                                 "application_ids": {"application_id": "stadt-licht"}},
              "correlation_ids": ["as:up:2"], "received_at": "2026-12-01T18:00:00Z",
              "uplink_message": {"f_port": 2, "f_cnt": 8, "frm_payload": "",
                                 "decoded_payload": {"state": "off", "dimming": 0},
                                 "received_at": "2026-12-01T18:00:00Z"}}
    stored = app_client.post("/api/lorawan/stadt/uplink", json=uplink,
                             headers={"Authorization": f"Bearer {secret}"})
    assert stored.status_code in (200, 201), stored.text
    wait_for(lambda: task_status(app_client, task)["status"] == "confirmed", seconds=5)
    # The next full check finds that nothing waits any more.
    wait_for(lambda: confirmations.awaiting is False, seconds=5)


def test_chirpstack_downlink_then_silence_fails_the_task(app_client: TestClient) -> None:
    receiver = Receiver("grpc-metadata-authorization")
    with serving(receiver.app) as url:
        capability, _ = lamp(app_client, "chirpstack", url, confirmed=True)
        task = app_client.post("/v1.1/Tasks", json={
            "taskingParameters": {"switch": "off"},
            "TaskingCapability": {"@iot.id": capability}}).json()["@iot.id"]
        wait_for(lambda: receiver.requests)
    path, body = receiver.requests[0]
    assert path == f"/api/devices/{EUI.lower()}/queue"
    assert body == {"queueItem": {"fPort": 10, "confirmed": True,
                                  "data": base64.b64encode(bytes([1, 0, 0xFF])).decode()}}
    failed = wait_for(lambda: (s := task_status(app_client, task))["status"] == "failed" and s)
    assert "did not report the commanded state within 2 s" in failed["statusReason"]


def test_a_refused_key_fails_after_the_attempts(app_client: TestClient) -> None:
    receiver = Receiver("authorization")
    receiver.header = "x-nothing"  # every request is refused with 401
    with serving(receiver.app) as url:
        capability, _ = lamp(app_client, "tts", url, application="stadt-licht", webhook="q")
        task = app_client.post(f"/v1.1/TaskingCapabilities({capability})/Tasks",
                               json={"taskingParameters": {"dim": 30}}).json()["@iot.id"]
        failed = wait_for(lambda: (s := task_status(app_client, task))["status"] == "failed" and s)
    assert "2 attempts failed" in failed["statusReason"] and "401" in failed["statusReason"]
    assert KEY not in failed["statusReason"]


def test_a_task_without_a_way_to_its_device_fails_at_once(app_client: TestClient) -> None:
    thing = app_client.post("/v1.1/Things", json={"name": "x", "description": "no device"})
    thing_id = thing.json()["@iot.id"]
    created = app_client.post("/v1.1/TaskingCapabilities", json={
        "name": "c", "description": "d", "taskingParameters": PARAMETERS,
        "Thing": {"@iot.id": thing_id}, "Tasks": [{"taskingParameters": {"switch": "on"}}],
        "Actuator": {"name": "a", "description": "b", "encodingType": "text/plain",
                     "metadata": "m"}})
    assert created.status_code == 201, created.text
    task = app_client.get("/v1.1/Tasks").json()["value"][0]["@iot.id"]
    failed = wait_for(lambda: (s := task_status(app_client, task))["status"] == "failed" and s)
    assert "no LoRaWAN device" in failed["statusReason"]


@pytest.mark.parametrize("downlink,message", [
    ({"url": "ftp://x", "apiKey": "k-77", "application": "a", "webhook": "w"}, "http(s) address"),
    ({"url": "http://x", "application": "a", "webhook": "w"}, "apiKey"),
    ({"url": "http://x", "apiKey": "k-77", "application": "A B", "webhook": "w"}, "application"),
    ({"via": "mqtt"}, "topic"),
    ({"url": "http://x", "apiKey": "k-77", "application": "a", "webhook": "w", "x": 1}, "'x'"),
])
def test_bad_downlink_settings_are_400(client: TestClient, downlink: Any, message: str) -> None:
    response = client.post("/api/lorawan/integrations",
                           json={"name": "stadt", "network": "tts", "downlink": downlink})
    assert response.status_code == 400, response.text
    assert message in response.json()["message"]
    assert "k-77" not in response.text
