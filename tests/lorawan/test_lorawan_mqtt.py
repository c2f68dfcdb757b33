"""Uplinks by MQTT (the network servers' MQTT integrations) through the real Mosquitto on
127.0.0.1:1883, each test under topics of its own."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest

from conftest import TestClient, backend_settings, make_app
from lorawan_fixtures import chirpstack_uplink, device, gauge_profile, ldds75, tts_uplink
from quartier.lorawan import mqtt as lorawan_mqtt
from quartier.settings import Settings
from test_mqtt import HOST, NO_MATCHING_SUBSCRIBERS, SHARED_PORT, MqttClient, drop_session, wait_until

SQL_BACKENDS = pytest.mark.parametrize("backend", ["sqlite", "postgresql"])


@pytest.fixture
def lorawan_settings(request: pytest.FixtureRequest, tmp_path: Path,
                     shared_broker: None) -> Iterator[Callable[[str], Settings]]:
    made: list[Settings] = []

    def build(backend: str) -> Settings:
        tag = uuid4().hex[:8]
        base = backend_settings(request, backend, tmp_path / f"data-{tag}")
        settings = dataclasses.replace(base, mqtt=f"mqtt://{HOST}:{SHARED_PORT}",
                                       mqtt_prefix=f"test{tag}/", mqtt_client_id=f"quartier-test-{tag}",
                                       base_url="http://testserver")
        made.append(settings)
        return settings

    yield build
    for settings in made:
        drop_session(SHARED_PORT, settings.mqtt_client_id)
        for number in range(1, 5):
            drop_session(SHARED_PORT, f"{settings.mqtt_client_id}-lorawan-{number}")


@pytest.fixture
def shared_broker() -> None:
    from test_mqtt import _port_open, skip_or_fail

    if not _port_open(SHARED_PORT):
        skip_or_fail(f"no MQTT broker on {HOST}:{SHARED_PORT}")


def prepare(settings: Settings, integration: dict[str, Any]) -> None:
    """A gauge profile, its device and the integration, before the platform runs."""
    with TestClient(make_app(settings), raise_server_exceptions=False) as client:
        assert client.post("/api/device-profiles", json=gauge_profile()).status_code == 201
        assert client.post("/api/devices", json=device()).status_code == 201
        response = client.post("/api/lorawan/integrations", json=integration)
        assert response.status_code == 201, response.text


def publish_when_subscribed(sender: MqttClient, topic: str, payload: Any) -> None:
    """Publish until the platform's subscription takes the message (before it exists the
    broker drops it, so nothing is stored twice)."""
    wait_until(lambda: sender.publish(topic, payload).value != NO_MATCHING_SUBSCRIBERS,
               f"the platform's subscription to {topic}", interval=0.1)


def distances(client: TestClient) -> list[Any]:
    response = client.get("/v1.1/Observations", params={
        "$filter": "Datastream/properties/field eq 'distance'", "$orderby": "id"})
    return [o["result"] for o in response.json()["value"]]


@contextmanager
def running(settings: Settings) -> Iterator[TestClient]:
    with TestClient(make_app(settings), raise_server_exceptions=False) as client:
        yield client


@SQL_BACKENDS
def test_tts_uplinks_by_mqtt_are_stored_once(backend: str,
                                             lorawan_settings: Callable[[str], Settings]) -> None:
    settings = lorawan_settings(backend)
    root = settings.mqtt_prefix
    prepare(settings, {"name": "stadt", "network": "tts",
                       "mqtt": {"topic": f"{root}v3/+/devices/+/up"}})  # the platform's broker
    topic = f"{root}v3/stadt@ttn/devices/pegel-1/up"
    with running(settings) as client, MqttClient() as sender:
        publish_when_subscribed(sender, topic, tts_uplink(f_cnt=1, decoded={"distance": 1200}))
        wait_until(lambda: distances(client) == [1200], "the first uplink")
        sender.publish(topic, tts_uplink(f_cnt=1, decoded={"distance": 1200}))  # redelivered
        sender.publish(topic, tts_uplink(f_cnt=2, payload=ldds75(1210)))
        sender.publish(topic, b"{broken")
        wait_until(lambda: distances(client) == [1200, 1210], "the second uplink")
        letters = wait_until(lambda: client.get("/api/dead-letters").json()["value"], "the dead letter")
        assert [(x["source"], x["address"]) for x in letters] == [("lorawan:tts:mqtt", f"stadt:{topic}")]
        assert letters[0]["payload"] == "{broken" and letters[0]["reason"].startswith("400: ")
        assert distances(client) == [1200, 1210]  # the duplicate was not stored


@SQL_BACKENDS
def test_chirpstack_by_mqtt_on_a_named_broker(backend: str,
                                              lorawan_settings: Callable[[str], Settings]) -> None:
    settings = dataclasses.replace(lorawan_settings(backend), mqtt="")  # no platform broker
    tag = uuid4().hex[:8]
    prepare(settings, {"name": "stadt", "network": "chirpstack", "mqtt": {
        "url": f"mqtt://{HOST}:{SHARED_PORT}", "topic": f"cs{tag}/application/+/device/+/event/+"}})
    app_topic = f"cs{tag}/application/ca739e26/device/70b3d57ed0001234/event"
    with running(settings) as client, MqttClient() as sender:
        publish_when_subscribed(sender, f"{app_topic}/join", {"deviceInfo": {}})
        sender.publish(f"{app_topic}/up", chirpstack_uplink(obj={"distance": 880}))
        wait_until(lambda: distances(client) == [880], "the ChirpStack uplink")
        assert client.get("/api/dead-letters").json()["total"] == 0  # the join was ignored


@SQL_BACKENDS
def test_uplinks_sent_while_the_platform_is_down_are_stored_after(
    backend: str, lorawan_settings: Callable[[str], Settings],
) -> None:
    settings = lorawan_settings(backend)
    root = settings.mqtt_prefix
    prepare(settings, {"name": "stadt", "network": "tts", "mqtt": {"topic": f"{root}v3/+/devices/+/up"}})
    topic = f"{root}v3/stadt@ttn/devices/pegel-1/up"
    with running(settings) as client, MqttClient() as sender:
        publish_when_subscribed(sender, topic, tts_uplink(f_cnt=1, decoded={"distance": 1}))
        wait_until(lambda: distances(client) == [1], "the first uplink")
    with MqttClient() as sender:  # the platform is down; its session keeps what comes
        for f_cnt in range(2, 12):
            ack = sender.publish(topic, tts_uplink(f_cnt=f_cnt, decoded={"distance": f_cnt}))
            assert ack.value != NO_MATCHING_SUBSCRIBERS
    with running(settings) as client:
        # taken in parallel, so stored in any order
        wait_until(lambda: sorted(distances(client)) == list(range(1, 12)),
                   "the uplinks from the down time")


@SQL_BACKENDS
def test_an_integration_added_while_running_is_subscribed(
    backend: str, lorawan_settings: Callable[[str], Settings], monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(lorawan_mqtt, "REFRESH_SECONDS", 0.2)
    settings = lorawan_settings(backend)
    root = settings.mqtt_prefix
    topic = f"{root}v3/stadt@ttn/devices/pegel-1/up"
    with running(settings) as client, MqttClient() as sender:
        assert client.post("/api/device-profiles", json=gauge_profile()).status_code == 201
        assert client.post("/api/devices", json=device()).status_code == 201
        created = client.post("/api/lorawan/integrations", json={
            "name": "stadt", "network": "tts", "mqtt": {"topic": f"{root}v3/+/devices/+/up"}})
        assert created.status_code == 201
        first = tts_uplink(decoded={"distance": 5})
        publish_when_subscribed(sender, topic, first)
        wait_until(lambda: distances(client) == [5], "the uplink")
        # A second integration on the same broker joins the same connection.
        second = client.post("/api/lorawan/integrations", json={
            "name": "cs", "network": "chirpstack",
            "mqtt": {"topic": f"{root}application/+/device/+/event/up"}})
        assert second.status_code == 201
        cs_topic = f"{root}application/a1/device/70b3d57ed0001234/event/up"
        publish_when_subscribed(sender, cs_topic, chirpstack_uplink(obj={"distance": 6}))
        wait_until(lambda: sorted(distances(client)) == [5, 6], "the ChirpStack uplink")
        # Dropping the first leaves its topic, the second goes on.
        assert client.delete("/api/lorawan/integrations/stadt").status_code == 204
        wait_until(lambda: sender.publish(topic, first).value == NO_MATCHING_SUBSCRIBERS,
                   "the first subscription to end", interval=0.2)
        stored = chirpstack_uplink(f_cnt=2, obj={"distance": 7})
        sender.publish(cs_topic, stored)
        wait_until(lambda: sorted(distances(client)) == [5, 6, 7], "the second ChirpStack uplink")
        assert client.delete("/api/lorawan/integrations/cs").status_code == 204
        # probing with a stored uplink: a duplicate if it still arrives, no dead letter
        wait_until(lambda: sender.publish(cs_topic, stored).value == NO_MATCHING_SUBSCRIBERS,
                   "the session to end", interval=0.2)
        assert sorted(distances(client)) == [5, 6, 7]
        assert client.get("/api/dead-letters").json()["total"] == 0
