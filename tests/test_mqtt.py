"""MQTT (SensorThings MQTT extension) against a real Mosquitto broker and real databases.

The shared broker on 127.0.0.1:1883 is used with a random topic prefix and client id per
test, so parallel runs never see each other's messages; broker outages use a private
``mosquitto`` on a free port. An external paho-mqtt client plays the sensor and the
subscriber. Persistent sessions the platform leaves at the broker are removed after each
test.
"""

from __future__ import annotations

import asyncio
import dataclasses
import getpass
import json
import logging
import shutil
import socket
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

import asyncpg
import httpx2 as httpx
import paho.mqtt.client as paho
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from conftest import (
    POINT,
    Api,
    TestClient,
    backend_settings,
    create_tenant,
    datastream_body,
    full_thing_body,
    make_app,
    skip_or_fail,
)
from quartier.settings import Settings
from test_server_process import auth, serving

HOST = "127.0.0.1"
SHARED_PORT = 1883
TIMEOUT = 30.0  # the longest wait for anything that should happen (never asserted on)
RECONNECT_TIMEOUT = 45.0  # Quartier waits up to 30 s between reconnect attempts
NO_MATCHING_SUBSCRIBERS = 16  # MQTT 5 PUBACK reason code
PG_ONLY = pytest.mark.parametrize("backend", ["postgresql"])
SQL_BACKENDS = pytest.mark.parametrize("backend", ["sqlite", "postgresql"])


# -- waiting ------------------------------------------------------------------------------


def wait_until(check: Callable[[], Any], what: str, timeout: float = TIMEOUT,
               interval: float = 0.05) -> Any:
    """Poll ``check`` until it returns something truthy; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=1):
            return True
    except OSError:
        return False


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


# -- an external MQTT client ------------------------------------------------------------------


class MqttClient:
    """An MQTT 5 client outside the platform: subscribes to ``filters`` with QoS 1 (and
    noLocal, so it never sees what it publishes itself), collects every message, and
    publishes with QoS 1, waiting for the broker's PUBACK."""

    def __init__(self, port: int = SHARED_PORT, filters: Sequence[str] = (),
                 client_id: str | None = None, persistent: bool = False,
                 username: str | None = None, password: str | None = None) -> None:
        self.port = port
        self.filters = list(filters)
        self.persistent = persistent
        self._lock = threading.Lock()
        self._messages: list[tuple[str, bytes]] = []
        self._acks: dict[int, Any] = {}
        self._suback = threading.Event()
        self._suback_codes: list[Any] = []
        self._answered: set[int] = set()  # mids of SUBACKs and UNSUBACKs
        client = paho.Client(paho.CallbackAPIVersion.VERSION2,
                             client_id=client_id or f"test-{uuid4().hex[:12]}",
                             protocol=paho.MQTTv5)
        client.reconnect_delay_set(min_delay=1, max_delay=2)
        if username is not None:
            client.username_pw_set(username, password)
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_unsubscribe = self._on_unsubscribe
        client.on_message = self._on_message
        client.on_publish = self._on_publish
        self._client = client

    def __enter__(self) -> MqttClient:
        properties = None
        if self.persistent:
            properties = Properties(PacketTypes.CONNECT)
            properties.SessionExpiryInterval = 600
        self._client.connect(HOST, self.port, keepalive=10, clean_start=not self.persistent,
                             properties=properties)
        self._client.loop_start()
        wait_until(self._client.is_connected, f"the test client to connect to port {self.port}")
        if self.filters:
            wait_until(self._suback.is_set, "the broker to confirm the subscriptions")
            assert not any(code.is_failure for code in self._suback_codes), self._suback_codes
        return self

    def __exit__(self, *exc: object) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def connected(self) -> bool:
        return bool(self._client.is_connected())

    def messages(self, topic: str | None = None) -> list[tuple[str, bytes]]:
        with self._lock:
            return [m for m in self._messages if topic is None or m[0] == topic]

    def payloads(self, topic: str) -> list[bytes]:
        return [payload for _, payload in self.messages(topic)]

    def wait_count(self, topic: str | None, count: int, timeout: float = TIMEOUT) -> list[tuple[str, bytes]]:
        wait_until(lambda: len(self.messages(topic)) >= count,
                   f"{count} messages on {topic or 'any topic'} (have {len(self.messages(topic))})",
                   timeout)
        return self.messages(topic)

    def subscribe(self, topics: Sequence[str]) -> None:
        """Subscribe to more topics (QoS 1), once the broker confirmed them."""
        _, mid = self._client.subscribe([(t, SubscribeOptions(qos=1, noLocal=True)) for t in topics])
        wait_until(lambda: mid in self._answered, f"the SUBACK for {topics}")

    def unsubscribe(self, topics: Sequence[str]) -> None:
        _, mid = self._client.unsubscribe(list(topics))
        wait_until(lambda: mid in self._answered, f"the UNSUBACK for {topics}")

    def publish(self, topic: str, payload: Any, properties: Properties | None = None) -> Any:
        """Publish with QoS 1; the PUBACK's reason code once the broker accepted it."""
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        info = self._client.publish(topic, data, qos=1, properties=properties)
        info.wait_for_publish(TIMEOUT)
        assert info.is_published(), f"the broker did not accept the message on {topic}"
        return wait_until(lambda: self._acks.pop(info.mid, None), "the PUBACK")

    # paho's network thread

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        if self.filters and not reason.is_failure:
            client.subscribe([(f, SubscribeOptions(qos=1, noLocal=True)) for f in self.filters])

    def _on_subscribe(self, client: Any, userdata: Any, mid: int, codes: Any, properties: Any) -> None:
        self._suback_codes = list(codes)
        self._suback.set()
        self._answered.add(mid)

    def _on_unsubscribe(self, client: Any, userdata: Any, mid: int, codes: Any, properties: Any) -> None:
        self._answered.add(mid)

    def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
        with self._lock:
            self._messages.append((message.topic, bytes(message.payload)))

    def _on_publish(self, client: Any, userdata: Any, mid: int, reason: Any, properties: Any) -> None:
        self._acks[mid] = reason


def platform_subscribed(prefix: str, port: int = SHARED_PORT) -> None:
    """Wait until the platform's subscriptions exist at the broker: a probe on a topic only
    the platform subscribes to gets a PUBACK without "No matching subscribers". The probe
    carries the user property of the platform's own messages, so it is acknowledged and
    otherwise ignored (no Observation, no dead letter)."""
    own = Properties(PacketTypes.PUBLISH)
    own.UserProperty = [("origin", "quartier")]
    topic = f"{prefix}t/zzprobe/v1.1/Sensors(0)/Observations"
    with MqttClient(port) as probe:
        wait_until(lambda: probe.publish(topic, b"{}", own).value != NO_MATCHING_SUBSCRIBERS,
                   "the platform's subscription at the broker", interval=0.1)


def drop_session(port: int, client_id: str) -> None:
    """Remove a persistent session from the broker (clean start, session expiry 0)."""
    client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv5)
    try:
        client.connect(HOST, port, clean_start=True)
    except OSError:
        return
    client.loop_start()
    deadline = time.monotonic() + 5
    while not client.is_connected() and time.monotonic() < deadline:
        time.sleep(0.02)
    client.disconnect()
    client.loop_stop()


# -- the platform -----------------------------------------------------------------------------


@pytest.fixture
def shared_broker() -> None:
    if not _port_open(SHARED_PORT):
        skip_or_fail(f"no MQTT broker on {HOST}:{SHARED_PORT}")


@pytest.fixture
def make_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[..., Settings]]:
    """Settings for a fresh store on a backend, with MQTT under a unique prefix and client
    id; the sessions they leave at the broker are dropped afterwards."""
    made: list[Settings] = []

    def build(backend: str, broker_port: int = SHARED_PORT, **changes: Any) -> Settings:
        tag = uuid4().hex[:8]
        base = backend_settings(request, backend, tmp_path / f"data-{tag}")
        settings = dataclasses.replace(
            base, mqtt=f"mqtt://{HOST}:{broker_port}", mqtt_prefix=f"test{tag}/",
            mqtt_client_id=f"quartier-test-{tag}", base_url="http://testserver", **changes,
        )
        made.append(settings)
        return settings

    yield build
    for settings in made:
        port = int(settings.mqtt.rsplit(":", 1)[1])
        ids = [settings.mqtt_client_id]
        if settings.workers > 1:  # each worker takes a slot: the id with -0, -1, ... appended
            ids += [f"{settings.mqtt_client_id}-{slot}" for slot in range(settings.workers * 4)]
        for client_id in ids:
            drop_session(port, client_id)


@contextmanager
def running(settings: Settings) -> Iterator[TestClient]:
    """The app (on TestClient), once its subscriptions are in place at the broker."""
    port = int(settings.mqtt.rsplit(":", 1)[1])
    with TestClient(make_app(settings), raise_server_exceptions=False) as client:
        platform_subscribed(settings.mqtt_prefix, port)
        yield client


def count(api: Api, path: str = "Observations") -> int:
    return int(api.ok(path, **{"$count": "true", "$top": "0"})["@iot.count"])


def new_datastream(api: Api) -> int:
    thing = api.create("Things", full_thing_body())
    return int(api.ok(f"Things({thing})/Datastreams")["value"][0]["@iot.id"])


def id_of(payload: bytes) -> int:
    return int(json.loads(payload)["@iot.id"])


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"code", "message"}, body
    assert body["code"] == code
    assert isinstance(body["message"], str) and body["message"]
    return dict(body)


# -- 1. announcements -------------------------------------------------------------------------


def test_changes_are_announced_once_with_their_get_answer(
    backend: str, make_settings: Callable[..., Settings], shared_broker: None,
) -> None:
    settings = make_settings(backend)
    prefix = settings.mqtt_prefix
    root = f"{prefix}v1.1/"
    with running(settings) as client, MqttClient(filters=[f"{prefix}#"]) as listener:
        api = Api(client)

        def check(expected: dict[str, str], before: int) -> None:
            """Each topic got one message (after the first ``before``), carrying GET path."""
            got = listener.wait_count(None, before + len(expected))[before:]
            assert sorted(topic for topic, _ in got) == sorted(root + t for t in expected)
            for topic, payload in got:
                path = expected[topic[len(root):]]
                assert payload == client.get(f"/v1.1/{path}").content, topic

        thing = api.create("Things", full_thing_body())
        location = api.ok(f"Things({thing})/Locations")["value"][0]["@iot.id"]
        ds = api.ok(f"Things({thing})/Datastreams")["value"][0]["@iot.id"]
        sensor = api.ok(f"Datastreams({ds})/Sensor")["@iot.id"]
        prop = api.ok(f"Datastreams({ds})/ObservedProperty")["@iot.id"]
        hl = api.ok(f"Things({thing})/HistoricalLocations")["value"][0]["@iot.id"]
        check({
            "Things": f"Things({thing})",
            "Locations": f"Locations({location})",
            "Sensors": f"Sensors({sensor})",
            "ObservedProperties": f"ObservedProperties({prop})",
            "Datastreams": f"Datastreams({ds})",
            f"Things({thing})/Datastreams": f"Datastreams({ds})",
            f"Sensors({sensor})/Datastreams": f"Datastreams({ds})",
            f"ObservedProperties({prop})/Datastreams": f"Datastreams({ds})",
            "HistoricalLocations": f"HistoricalLocations({hl})",
            f"Things({thing})/HistoricalLocations": f"HistoricalLocations({hl})",
            # navigation paths through link tables
            f"Locations({location})/Things": f"Things({thing})",
            f"Things({thing})/Locations": f"Locations({location})",
            f"Locations({location})/HistoricalLocations": f"HistoricalLocations({hl})",
            f"HistoricalLocations({hl})/Locations": f"Locations({location})",
        }, 0)

        obs = api.create(f"Datastreams({ds})/Observations",
                         {"result": 21.5, "phenomenonTime": "2026-05-01T10:00:00Z"})
        foi = api.ok(f"Observations({obs})/FeatureOfInterest")["@iot.id"]
        check({
            "FeaturesOfInterest": f"FeaturesOfInterest({foi})",
            "Observations": f"Observations({obs})",
            f"Datastreams({ds})/Observations": f"Observations({obs})",
            f"FeaturesOfInterest({foi})/Observations": f"Observations({obs})",
        }, 14)

        patched = client.patch(f"/v1.1/Things({thing})", json={"name": "Neu"})
        assert patched.status_code == 200, patched.text
        check({f"Things({thing})": f"Things({thing})",
               f"Things({thing})/name": f"Things({thing})/name"}, 18)
        assert listener.payloads(f"{root}Things({thing})/name") == [b'{"name":"Neu"}']

        # Deletions publish nothing: after them, the next message is the fence's.
        assert client.delete(f"/v1.1/Observations({obs})").status_code == 200
        assert client.delete(f"/v1.1/Things({thing})").status_code == 200
        fence = client.patch(f"/v1.1/Sensors({sensor})", json={"description": "fence"})
        assert fence.status_code == 200, fence.text
        check({f"Sensors({sensor})": f"Sensors({sensor})",
               f"Sensors({sensor})/description": f"Sensors({sensor})/description"}, 20)
        assert len(listener.messages()) == 22
        assert all(topic.startswith(root) for topic, _ in listener.messages())


@SQL_BACKENDS
def test_another_tenant_has_its_own_topics(
    backend: str, make_settings: Callable[..., Settings], shared_broker: None,
) -> None:
    settings = make_settings(backend)
    prefix = settings.mqtt_prefix
    create_tenant(settings, "nord")
    root = f"{prefix}t/nord/v1.1/"
    with running(settings) as client, MqttClient(filters=[f"{prefix}#"]) as listener:
        nord, town = Api(client, "/t/nord/v1.1"), Api(client)
        thing = nord.create("Things", full_thing_body("Nordpegel"))
        ds = nord.ok(f"Things({thing})/Datastreams")["value"][0]["@iot.id"]
        (thing_message,) = listener.wait_count(f"{root}Things", 1)
        assert thing_message[1] == client.get(f"/t/nord/v1.1/Things({thing})").content
        self_link = json.loads(thing_message[1])["@iot.selfLink"]
        assert self_link == f"http://testserver/t/nord/v1.1/Things({thing})"
        (ds_message,) = listener.wait_count(f"{root}Things({thing})/Datastreams", 1)
        assert b"/t/nord/v1.1/Datastreams(" in ds_message[1]

        # An Observation published under the tenant's topic lands in that tenant only.
        with MqttClient() as sensor:
            sensor.publish(f"{root}Datastreams({ds})/Observations", {"result": 7})
        wait_until(lambda: count(nord) == 1, "the tenant's Observation")
        (obs_message,) = listener.wait_count(f"{root}Observations", 1)
        obs = id_of(obs_message[1])
        assert obs_message[1] == client.get(f"/t/nord/v1.1/Observations({obs})").content
        assert json.loads(obs_message[1])["result"] == 7
        assert count(town) == 0
        assert town.ok("Things")["value"] == []

        fence = client.patch(f"/t/nord/v1.1/Things({thing})", json={"description": "fence"})
        assert fence.status_code == 200
        listener.wait_count(f"{root}Things({thing})/description", 1)
        topics = [topic for topic, _ in listener.messages()]
        assert all(topic.startswith(root) for topic in topics), topics
        # Each topic once, though the tenant's announcements come back to the platform.
        assert Counter(topics)[f"{root}Observations"] == 1
        assert Counter(topics)[f"{root}Things"] == 1


# -- 2. creating Observations over MQTT -------------------------------------------------------


@pytest.mark.parametrize("announce_qos", [1, 0])
def test_observations_published_over_mqtt_are_created_and_announced(
    backend: str, announce_qos: int, make_settings: Callable[..., Settings], shared_broker: None,
) -> None:
    settings = make_settings(backend, mqtt_announce_qos=announce_qos)
    root = f"{settings.mqtt_prefix}v1.1/"
    with running(settings) as client, MqttClient(filters=[f"{root}Observations"]) as sensor:
        api = Api(client)
        ds = new_datastream(api)
        foi = api.create("FeaturesOfInterest", {
            "name": "Messpunkt", "description": "fixed point", "encodingType": "application/geo+json",
            "feature": POINT,
        })
        link = {"@iot.id": ds}
        # The first makes the FeatureOfInterest from the Thing's Location; the others come
        # together (see test_concurrent_first_observations_share_one_feature_of_interest).
        sensor.publish(f"{root}Observations", {"result": 1, "Datastream": link})
        wait_until(lambda: count(api) == 1, "the first Observation from MQTT")
        sensor.publish(f"{root}Datastreams({ds})/Observations", {"result": 2})
        sensor.publish(f"{root}FeaturesOfInterest({foi})/Observations", {"result": 3, "Datastream": link})
        sensor.publish(f"{root}Observations", {
            "result": 4, "phenomenonTime": "2026-05-01T10:00:00Z", "Datastream": link,
            "FeatureOfInterest": {"name": "Neu am Ufer", "description": "inline",
                                  "encodingType": "application/geo+json",
                                  "feature": {"type": "Point", "coordinates": [9.2, 48.8]}},
        })
        wait_until(lambda: count(api) == 4, "four Observations from MQTT")
        created = api.ok("Observations", **{"$expand": "FeatureOfInterest,Datastream",
                                            "$orderby": "result"})["value"]
        assert [o["result"] for o in created] == [1, 2, 3, 4]
        assert {o["Datastream"]["@iot.id"] for o in created} == {ds}
        fois = [o["FeatureOfInterest"] for o in created]
        assert fois[0]["@iot.id"] == fois[1]["@iot.id"] not in (foi, fois[3]["@iot.id"])
        assert fois[2]["@iot.id"] == foi
        assert fois[3]["name"] == "Neu am Ufer"
        assert created[3]["phenomenonTime"] == "2026-05-01T10:00:00Z"

        # Each is announced with its GET answer, once.
        announced = sensor.wait_count(f"{root}Observations", 4)
        assert sorted(id_of(p) for _, p in announced) == sorted(o["@iot.id"] for o in created)
        for _, payload in announced:
            assert payload == client.get(f"/v1.1/Observations({id_of(payload)})").content

        # The announcements reach the platform's own subscription too; it does not create
        # them again. A fifth message, published after them, is the fence.
        sensor.publish(f"{root}Observations", {"result": 5, "Datastream": link})
        sensor.wait_count(f"{root}Observations", 5)
        assert count(api) == 5
        assert len(sensor.messages(f"{root}Observations")) == 5
        assert sorted(o["result"] for o in api.ok("Observations")["value"]) == [1, 2, 3, 4, 5]


@SQL_BACKENDS
def test_a_burst_is_stored_and_announced_whole(
    backend: str, make_settings: Callable[..., Settings], tmp_path: Path,
) -> None:
    """Announcing is slower than storing: under a burst, writers wait for it rather than
    announcements being dropped, and the messages wait in the broker, not in memory."""
    # A broker that queues what a busy listener has not taken yet, as the README advises.
    broker = started_broker(tmp_path / "broker", "max_queued_messages 0\n")
    with broker as private:
        settings = make_settings(backend, private.port)
        root = f"{settings.mqtt_prefix}v1.1/"
        _burst(settings, root, private.port)


def _burst(settings: Settings, root: str, port: int) -> None:
    burst = 4000
    with running(settings) as client, \
            MqttClient(port, filters=[f"{root}Observations"]) as listener:
        api = Api(client)
        ds = new_datastream(api)
        topic = f"{root}Datastreams({ds})/Observations"
        with MqttClient(port) as sensor:
            infos = [sensor._client.publish(topic, json.dumps({"result": n}).encode(), qos=1)
                     for n in range(burst)]
            for info in infos:
                info.wait_for_publish(TIMEOUT)
        wait_until(lambda: count(api) == burst, f"{burst} Observations", timeout=120)
        announced = listener.wait_count(f"{root}Observations", burst, timeout=120)
        assert len(announced) == burst
        stored = api.ok("Observations", **{"$top": str(burst), "$select": "id"})["value"]
        assert sorted(id_of(p) for _, p in announced) == sorted(o["@iot.id"] for o in stored)
        mqtt = client.app.state.mqtt
        # Every announcement acknowledged by the broker: the listener may have the last
        # ones a moment before the broker's acknowledgements reach the server.
        wait_until(lambda: mqtt.link.pending() == 0, "the broker's acknowledgements", timeout=10)


@PG_ONLY
def test_concurrent_first_observations_share_one_feature_of_interest(
    backend: str, make_settings: Callable[..., Settings], shared_broker: None,
) -> None:
    """Two Observations without a FeatureOfInterest for a Datastream whose Thing's Location
    has none yet, stored in two transactions at once (as MQTT messages are): both must get
    the one FeatureOfInterest made from the Location. To make the overlap certain, the
    test holds the Datastream's row lock until both transactions wait for it."""
    settings = make_settings(backend)
    topic = f"{settings.mqtt_prefix}v1.1/Datastreams(1)/Observations"
    loop = asyncio.new_event_loop()
    with running(settings) as client, MqttClient() as sensor:
        api = Api(client)
        assert new_datastream(api) == 1
        holder = loop.run_until_complete(asyncpg.connect(settings.database))
        watcher = loop.run_until_complete(asyncpg.connect(settings.database))
        try:
            lock = holder.transaction()
            loop.run_until_complete(lock.start())
            loop.run_until_complete(holder.execute("SELECT id FROM datastreams WHERE id = 1 FOR UPDATE"))

            def waiting() -> int:
                return int(loop.run_until_complete(watcher.fetchval(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND wait_event_type = 'Lock' AND query LIKE '%FROM datastreams d%'")))

            for n in (1, 2):  # one after the other, so that they are two transactions
                sensor.publish(topic, {"result": n})
                wait_until(lambda n=n: waiting() == n, f"{n} transactions waiting for the Datastream")
            loop.run_until_complete(lock.commit())
        finally:
            loop.run_until_complete(holder.close())
            loop.run_until_complete(watcher.close())
            loop.close()
        wait_until(lambda: count(api) == 2, "both Observations")
        features = {o["FeatureOfInterest"]["@iot.id"] for o in
                    api.ok("Observations", **{"$expand": "FeatureOfInterest"})["value"]}
        assert count(api, "FeaturesOfInterest") == 1
        assert len(features) == 1


# -- 3. dead letters --------------------------------------------------------------------------


def letters(client: TestClient, **params: Any) -> dict[str, Any]:
    response = client.get("/api/dead-letters", params=params)
    assert response.status_code == 200, response.text
    return dict(response.json())


def bad_messages(root: str, prefix: str, ds: int) -> list[tuple[str, bytes, str]]:
    """(topic, payload, what the reason must name) for messages that store nothing."""
    new_feature = {"name": "nie", "description": "never stored", "encodingType": "application/geo+json",
                   "feature": POINT}
    return [
        (f"{root}Observations", b"{not json", "not valid JSON"),
        (f"{root}Observations", b'[{"result": 1}]', "JSON object"),
        (f"{root}Datastreams(999999)/Observations",
         json.dumps({"result": 1, "FeatureOfInterest": new_feature}).encode(),
         "no Datastream with @iot.id 999999"),
        (f"{root}Observations",
         json.dumps({"result": 1, "Datastream": {"@iot.id": 999998},
                     "FeatureOfInterest": new_feature}).encode(), "no Datastream with @iot.id 999998"),
        (f"{root}Datastreams({ds})/Observations",
         json.dumps({"result": 1, "phenomenonTime": "yesterday"}).encode(), "phenomenonTime"),
        (f"{root}Datastreams({ds})/Observations",
         json.dumps({"result": 1, "resultTime": 17}).encode(), "resultTime"),
        (f"{root}Datastreams({ds})/Observations", json.dumps({"value": 1}).encode(), "value"),
        (f"{root}Sensors(1)/Observations", json.dumps({"result": 1}).encode(),
         "not a topic that creates entities"),
        (f"{prefix}t/nobody/v1.1/Observations", json.dumps({"result": 1}).encode(), "no tenant 'nobody'"),
    ]


@SQL_BACKENDS
def test_messages_that_cannot_be_stored_become_dead_letters(
    backend: str, make_settings: Callable[..., Settings], shared_broker: None,
) -> None:
    settings = make_settings(backend)
    prefix = settings.mqtt_prefix
    root = f"{prefix}v1.1/"
    with running(settings) as client, MqttClient() as sensor:
        api = Api(client)
        ds = new_datastream(api)
        features_before = count(api, "FeaturesOfInterest")
        bad = bad_messages(root, prefix, ds)
        for topic, payload, _ in bad:
            sensor.publish(topic, payload)
        wait_until(lambda: letters(client)["total"] >= len(bad), f"{len(bad)} dead letters")
        listing = letters(client)
        assert listing["total"] == len(bad)
        kept = listing["value"]
        received = [datetime.fromisoformat(x["receivedAt"]) for x in kept]
        assert received == sorted(received)  # oldest first
        found = {(letter["address"], letter["payload"]): letter for letter in kept}
        assert len(found) == len(bad)  # one letter per message
        for topic, payload, named in bad:
            letter = found[(topic, payload.decode())]
            assert letter["source"] == "mqtt"
            assert letter["attempts"] == 1  # the first attempt, on arrival
            assert named in letter["reason"], letter
            assert letter["reason"][:3] in ("400", "404"), letter
            assert letter["receivedAt"].endswith("Z")
        assert found[(bad[-1][0], bad[-1][1].decode())]["tenantId"] is None
        assert found[(bad[0][0], bad[0][1].decode())]["tenantId"] is not None
        # Nothing was written, not even the new FeaturesOfInterest of the rejected messages.
        assert count(api) == 0
        assert count(api, "FeaturesOfInterest") == features_before


@SQL_BACKENDS
def test_dead_letter_api(backend: str, make_settings: Callable[..., Settings], shared_broker: None) -> None:
    settings = make_settings(backend)
    prefix = settings.mqtt_prefix
    root = f"{prefix}v1.1/"
    with running(settings) as client, MqttClient() as sensor:
        api = Api(client)
        ds = new_datastream(api)
        later = ds + 1  # a Datastream that does not exist yet
        for n, (topic, payload) in enumerate([
            (f"{root}Observations", b"{not json"),
            (f"{root}Datastreams({later})/Observations", {"result": 42}),
            (f"{prefix}t/nobody/v1.1/Observations", {"result": 1}),
        ], start=1):  # one at a time, so that they are kept in this order
            sensor.publish(topic, payload)
            wait_until(lambda n=n: letters(client)["total"] == n, f"dead letter {n}")
        everything = letters(client)["value"]
        assert [x["address"] for x in everything] == [
            f"{root}Observations", f"{root}Datastreams({later})/Observations",
            f"{prefix}t/nobody/v1.1/Observations",
        ]
        bad_json, missing_ds, nobody = (x["id"] for x in everything)

        # Paging.
        page = letters(client, limit=2)
        assert page["total"] == 3 and [x["id"] for x in page["value"]] == [bad_json, missing_ds]
        page = letters(client, limit=2, offset=2)
        assert page["total"] == 3 and [x["id"] for x in page["value"]] == [nobody]
        assert letters(client, offset=3) == {"total": 3, "value": []}
        for params in ({"limit": "0"}, {"limit": "1001"}, {"limit": "ten"}, {"limit": "-1"},
                       {"offset": "x"}, {"offset": "-2"}):
            assert_error(client.get("/api/dead-letters", params=params), 400, "bad_request")

        # One letter.
        one = client.get(f"/api/dead-letters/{missing_ds}")
        assert one.status_code == 200
        assert one.json() == everything[1]
        assert set(one.json()) == {"id", "tenantId", "source", "address", "receivedAt", "reason",
                                   "attempts", "payload"}
        assert json.loads(one.json()["payload"]) == {"result": 42}
        for unknown in ("999999", "abc", "1.5", "-1"):
            assert_error(client.get(f"/api/dead-letters/{unknown}"), 404, "not_found")
            assert_error(client.post(f"/api/dead-letters/{unknown}/retry"), 404, "not_found")
            assert_error(client.delete(f"/api/dead-letters/{unknown}"), 404, "not_found")

        # A retry that fails again: 422, kept, attempts counted.
        for attempt in (2, 3):
            again = client.post(f"/api/dead-letters/{bad_json}/retry")
            assert_error(again, 422, "unprocessable")
            letter = client.get(f"/api/dead-letters/{bad_json}").json()
            assert letter["attempts"] == attempt
            assert letter["reason"].startswith("400: ")
        assert_error(client.post(f"/api/dead-letters/{missing_ds}/retry"), 422, "unprocessable")
        assert client.get(f"/api/dead-letters/{missing_ds}").json()["attempts"] == 2

        # After the cause is fixed, the retry stores it and the letter is gone.
        thing = api.ok(f"Datastreams({ds})/Thing")["@iot.id"]
        sensor_id = api.ok(f"Datastreams({ds})/Sensor")["@iot.id"]
        prop = api.ok(f"Datastreams({ds})/ObservedProperty")["@iot.id"]
        created = api.create("Datastreams", datastream_body(
            "Zweiter", Thing={"@iot.id": thing}, Sensor={"@iot.id": sensor_id},
            ObservedProperty={"@iot.id": prop}))
        assert created == later
        retried = client.post(f"/api/dead-letters/{missing_ds}/retry")
        assert retried.status_code == 200, retried.text
        assert retried.json()["deadLetter"] == missing_ds
        stored = retried.json()["stored"]
        assert stored.startswith("http://testserver/v1.1/Observations(")
        observation = client.get(stored.removeprefix("http://testserver"))
        assert observation.status_code == 200
        assert observation.json()["result"] == 42
        assert api.ok(f"Datastreams({later})/Observations")["value"][0]["result"] == 42
        assert_error(client.get(f"/api/dead-letters/{missing_ds}"), 404, "not_found")
        assert_error(client.post(f"/api/dead-letters/{missing_ds}/retry"), 404, "not_found")
        assert count(api) == 1

        # Dropping.
        assert client.delete(f"/api/dead-letters/{nobody}").status_code == 204
        assert_error(client.get(f"/api/dead-letters/{nobody}"), 404, "not_found")
        assert_error(client.delete(f"/api/dead-letters/{nobody}"), 404, "not_found")
        assert [x["id"] for x in letters(client)["value"]] == [bad_json]
        assert letters(client)["total"] == 1


# -- 4. a platform restart --------------------------------------------------------------------


@PG_ONLY
def test_messages_accepted_while_the_platform_is_down_are_stored_after_restart(
    backend: str, make_settings: Callable[..., Settings], shared_broker: None,
) -> None:
    settings = make_settings(backend)
    topic = f"{settings.mqtt_prefix}v1.1/Datastreams(1)/Observations"
    with running(settings) as client:
        ds = new_datastream(Api(client))
        assert ds == 1
    # The platform is down; its session and subscription stay at the broker.
    with MqttClient() as sensor:
        for i in range(20):
            code = sensor.publish(topic, {"result": i})
            assert code.value == 0, f"the broker did not keep message {i} for the platform: {code}"
    with running(settings) as client:
        api = Api(client)
        wait_until(lambda: count(api) >= 20, "the 20 Observations published while the platform was down")
        with MqttClient() as sensor:  # a fence: the broker hands out older messages first
            sensor.publish(topic, {"result": 20})
        wait_until(lambda: count(api) >= 21, "the fence Observation")
        results = [o["result"] for o in api.ok("Observations", **{"$top": "1000"})["value"]]
        assert sorted(results) == list(range(21))  # every one, none twice


# -- 5. a broker outage -----------------------------------------------------------------------


class PrivateBroker:
    """A mosquitto of its own on a free port, with persistence, that a test can stop;
    ``extra`` lines are added to its configuration."""

    def __init__(self, directory: Path, extra: str = "") -> None:
        self.port = _free_port()
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.config = directory / "mosquitto.conf"
        self.config.write_text(
            f"listener {self.port} {HOST}\nallow_anonymous true\npersistence true\n"
            f"persistence_location {directory}/\n"
            # Started as root, mosquitto would switch to the user "mosquitto", which cannot
            # write its database into the test's folder: it stays the user it is.
            f"user {getpass.getuser()}\n{extra}"
        )
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = open(self.directory / "mosquitto.log", "ab")  # noqa: SIM115 (the process keeps it)
        self.process = subprocess.Popen(["mosquitto", "-c", str(self.config)], stdout=log,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        wait_until(lambda: self.process is not None and (self.process.poll() is not None
                                                         or _port_open(self.port)),
                   f"mosquitto on port {self.port}")
        assert self.process.poll() is None, (self.directory / "mosquitto.log").read_text()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


@contextmanager
def started_broker(directory: Path, extra: str = "") -> Iterator[PrivateBroker]:
    if shutil.which("mosquitto") is None:
        skip_or_fail("the mosquitto binary is not installed")
    broker = PrivateBroker(directory, extra)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def private_broker(tmp_path: Path) -> Iterator[PrivateBroker]:
    with started_broker(tmp_path / "broker") as broker:
        yield broker


def test_platform_survives_a_broker_outage(
    make_settings: Callable[..., Settings], private_broker: PrivateBroker,
) -> None:
    settings = make_settings("sqlite", broker_port=private_broker.port)
    root = f"{settings.mqtt_prefix}v1.1/"
    watched = [f"{root}Observations"]
    with running(settings) as client, MqttClient(private_broker.port, watched, persistent=True,
                                                  client_id=f"watcher-{uuid4().hex[:8]}") as sensor:
        api = Api(client)
        ds = new_datastream(api)
        first = api.create(f"Datastreams({ds})/Observations", {"result": 1})
        assert [id_of(p) for _, p in sensor.wait_count(watched[0], 1)] == [first]

        private_broker.stop()
        wait_until(lambda: not sensor.connected(), "the test client to notice the outage")
        # HTTP goes on without the broker.
        during = [api.create(f"Datastreams({ds})/Observations", {"result": 10 + i}) for i in range(3)]
        assert count(api) == 4

        private_broker.start()
        wait_until(sensor.connected, "the test client to reconnect", RECONNECT_TIMEOUT)
        # The platform reconnects by itself: a message published now is created.
        sensor.publish(f"{root}Datastreams({ds})/Observations", {"result": 99})
        wait_until(lambda: api.ok("Observations", **{"$filter": "result eq 99"})["value"],
                   "the Observation published after the outage", RECONNECT_TIMEOUT)
        # Announcements resume, and those made during the outage were not lost.
        after = api.create(f"Datastreams({ds})/Observations", {"result": 100})
        mqtt_made = api.ok("Observations", **{"$filter": "result eq 99"})["value"][0]["@iot.id"]
        def announced() -> set[int]:
            return {id_of(p) for p in sensor.payloads(watched[0])}

        wait_until(lambda: announced() >= {mqtt_made, after}, "the announcements after the outage",
                   RECONNECT_TIMEOUT)
        # Those of the Observations stored during the outage waited in the queue.
        assert announced() >= set(during), f"announced {sorted(announced())}, during {during}"
        assert count(api) == 6


# -- 6. several worker processes --------------------------------------------------------------


@PG_ONLY
def test_several_workers_announce_and_store_each_message_once(
    backend: str, make_settings: Callable[..., Settings], shared_broker: None,
) -> None:
    settings = make_settings(backend, workers=2)
    prefix = settings.mqtt_prefix
    topic = f"{prefix}v1.1/Observations"
    options = ["--workers", "2", "--mqtt", settings.mqtt, "--mqtt-prefix", prefix,
               "--mqtt-client-id", settings.mqtt_client_id]
    with serving(settings, *options) as (url, process), MqttClient(filters=[topic]) as sensor:
        platform_subscribed(prefix)
        created = httpx.post(f"{url}/Things", json=full_thing_body(), timeout=10, headers=auth(url))
        assert created.status_code == 201, created.text
        ds = httpx.get(f"{created.headers['location']}/Datastreams").json()["value"][0]["@iot.id"]

        def post(i: int) -> int:
            with httpx.Client(timeout=30, headers=auth(url)) as http:  # either worker
                response = http.post(f"{url}/Datastreams({ds})/Observations", json={"result": i})
                assert response.status_code == 201, response.text
                return int(response.json()["@iot.id"])

        with ThreadPoolExecutor(max_workers=8) as pool:
            posted = list(pool.map(post, range(50)))
        assert len(set(posted)) == 50
        sensor.wait_count(topic, 50)
        time.sleep(1.0)  # room for a duplicate to show up
        announced = [id_of(p) for p in sensor.payloads(topic)]
        assert sorted(announced) == sorted(posted)
        for payload in sensor.payloads(topic)[:5]:
            assert payload == httpx.get(f"{url}/Observations({id_of(payload)})").content

        for i in range(50):
            sensor.publish(f"{prefix}v1.1/Datastreams({ds})/Observations", {"result": 1000 + i})

        def total() -> int:
            body = httpx.get(f"{url}/Observations", params={"$count": "true", "$top": "0"}).json()
            return int(body["@iot.count"])

        wait_until(lambda: total() >= 100, "the 50 Observations published over MQTT")
        sensor.wait_count(topic, 100)
        time.sleep(1.0)
        assert total() == 100
        values = httpx.get(f"{url}/Observations", params={"$top": "1000"}).json()["value"]
        assert sorted(o["result"] for o in values) == [*range(50), *range(1000, 1050)]
        announced = [id_of(p) for p in sensor.payloads(topic)]
        assert len(announced) == 100
        assert sorted(announced) == sorted(o["@iot.id"] for o in values)
        assert process.poll() is None  # neither worker died on the way


# -- 7. $select topics ------------------------------------------------------------------------

# Mosquitto publishes each SUBSCRIBE and UNSUBSCRIBE on $SYS/broker/log/M/(un)subscribe.
LOG_SUBSCRIPTIONS = "log_dest topic\nlog_type subscribe\nlog_type unsubscribe\n"


@pytest.fixture
def logging_broker(tmp_path: Path) -> Iterator[PrivateBroker]:
    with started_broker(tmp_path / "logging-broker", LOG_SUBSCRIPTIONS) as broker:
        yield broker


def selects_of(client: TestClient) -> Any:
    """The $select topics the platform publishes on (read to wait for the broker's log)."""
    return client.app.state.mqtt.selects  # type: ignore[attr-defined]


def publishes_on(client: TestClient, topic: str) -> bool:
    narrowing = selects_of(client).get(topic.partition("?")[0])
    return narrowing is not None and topic in narrowing


def wait_publishing(client: TestClient, topics: Sequence[str], wanted: bool = True) -> None:
    wait_until(lambda: all(publishes_on(client, t) == wanted for t in topics),
               f"the platform to {'start' if wanted else 'stop'} publishing on {topics}")


def selected(client: TestClient, path: str, select: str, base: str = "/v1.1") -> bytes:
    """What GET of ``path`` with ``$select`` answers."""
    response = client.get(f"{base}/{path}", params={"$select": select})
    assert response.status_code == 200, response.text
    return bytes(response.content)


@SQL_BACKENDS
def test_select_topics_carry_the_get_answer_with_that_select(
    backend: str, make_settings: Callable[..., Settings], logging_broker: PrivateBroker,
) -> None:
    port = logging_broker.port
    settings = make_settings(backend, broker_port=port)
    prefix = settings.mqtt_prefix
    create_tenant(settings, "nord")
    root, nord_root = f"{prefix}v1.1/", f"{prefix}t/nord/v1.1/"
    with running(settings) as client, MqttClient(port, [f"{prefix}#"]) as listener:
        api = Api(client)
        thing = api.create("Things", full_thing_body())
        ds = api.ok(f"Things({thing})/Datastreams")["value"][0]["@iot.id"]
        nord_thing = Api(client, "/t/nord/v1.1").create("Things", full_thing_body("Nord"))
        # These Things are announced after their commit; once announced, they cannot reach
        # the $select topics subscribed to below (each announcement looks them up as it goes).
        listener.wait_count(f"{root}Things", 1)
        listener.wait_count(f"{nord_root}Things", 1)
        # (topic, path below the root, $select): collections, an entity, navigation paths,
        # with and without ids and links; two $select topics of one collection.
        wanted = [
            (f"{root}Things?$select=name,description", "Things", "name,description"),
            (f"{root}Things?$select=@iot.id,Datastreams", "Things", "@iot.id,Datastreams"),
            (f"{root}Things({thing})?$select=name", f"Things({thing})", "name"),
            (f"{root}Things({thing})?$select=@iot.selfLink,properties,Locations",
             f"Things({thing})", "@iot.selfLink,properties,Locations"),
            (f"{root}Datastreams({ds})/Observations?$select=result,phenomenonTime",
             f"Datastreams({ds})/Observations", "result,phenomenonTime"),
            (f"{root}Datastreams({ds})/Observations?$select=id,result,FeatureOfInterest",
             f"Datastreams({ds})/Observations", "id,result,FeatureOfInterest"),
            (f"{root}Observations?$select=result", "Observations", "result"),
            (f"{nord_root}Things({nord_thing})?$select=@iot.id,name", f"Things({nord_thing})",
             "@iot.id,name"),
        ]
        topics = [topic for topic, _, _ in wanted]
        with MqttClient(port, topics):
            wait_publishing(client, topics)
            before = len(listener.messages())
            second = api.create("Things", {"name": "Zweites Ding", "description": "ohne alles"})
            obs = api.create(f"Datastreams({ds})/Observations",
                             {"result": 21.5, "phenomenonTime": "2026-05-01T10:00:00Z"})
            for path, body in ((f"/v1.1/Things({thing})", {"name": "Neu", "properties": {"a": 1}}),
                               (f"/t/nord/v1.1/Things({nord_thing})", {"name": "Nord neu"})):
                patched = client.patch(path, json=body)
                assert patched.status_code == 200, patched.text
            expected = {
                topics[0]: selected(client, f"Things({second})", "name,description"),
                topics[1]: selected(client, f"Things({second})", "@iot.id,Datastreams"),
                topics[2]: selected(client, f"Things({thing})", "name"),
                topics[3]: selected(client, f"Things({thing})", "@iot.selfLink,properties,Locations"),
                topics[4]: selected(client, f"Observations({obs})", "result,phenomenonTime"),
                topics[5]: selected(client, f"Observations({obs})", "id,result,FeatureOfInterest"),
                topics[6]: selected(client, f"Observations({obs})", "result"),
                topics[7]: selected(client, f"Things({nord_thing})", "@iot.id,name", "/t/nord/v1.1"),
            }
            for topic, payload in expected.items():
                assert listener.wait_count(topic, 1) == [(topic, payload)], topic
            assert expected[topics[2]] == b'{"name":"Neu"}'
            assert expected[topics[4]] == b'{"phenomenonTime":"2026-05-01T10:00:00Z","result":21.5}'
            assert json.loads(expected[topics[7]]) == {
                "@iot.selfLink": f"http://testserver/t/nord/v1.1/Things({nord_thing})",
                "@iot.id": nord_thing, "name": "Nord neu"}
            # The plain topics are announced as before, and nothing else narrowed.
            assert listener.payloads(f"{root}Things({thing})") == [
                client.get(f"/v1.1/Things({thing})").content]
            assert len(listener.payloads(f"{root}Things")) == 2  # the first Thing's, the second's
            got = Counter(topic for topic, _ in listener.messages()[before:])
            assert sorted(t for t in got if "?" in t) == sorted(topics)
            assert all(got[t] == 1 for t in topics), got


@SQL_BACKENDS
def test_select_topics_follow_unsubscribes_and_ignore_invalid_ones(
    backend: str, make_settings: Callable[..., Settings], logging_broker: PrivateBroker,
    caplog: pytest.LogCaptureFixture,
) -> None:
    port = logging_broker.port
    settings = make_settings(backend, broker_port=port)
    root = f"{settings.mqtt_prefix}v1.1/"
    names, descriptions, ids = (f"{root}Things?$select={s}" for s in ("name", "description", "id"))
    invalid = [
        f"{root}Things?$select=nosuch", f"{root}Things?$select=", f"{root}Things?$select=name&$top=1",
        f"{root}Things?$filter=name eq 'x'", f"{root}Things(x)?$select=name", f"{root}Nothing?$select=name",
        f"{root}Things(1)/name?$select=name", f"{root}Things(01)?$select=name",
        f"{root}Datastreams(1)/Thing?$select=name", "other/v1.1/Things?$select=name",
    ]
    with running(settings) as client, MqttClient(port, [f"{settings.mqtt_prefix}#"]) as listener, \
            MqttClient(port, [names, descriptions]) as first, MqttClient(port, [names]) as second, \
            MqttClient(port, invalid) as third:
        api = Api(client)
        # The log comes in order: once the platform knows the last topic, it has seen the
        # invalid ones before it.
        third.subscribe([ids])
        wait_publishing(client, [names, descriptions, ids])
        assert len(selects_of(client)) == 3

        def create_and_wait(n: int) -> None:
            api.create("Things", {"name": f"Ding {n}", "description": "x"})
            listener.wait_count(ids, n)  # the fence: published after the others

        create_and_wait(1)
        first.unsubscribe([names, descriptions])  # second still reads names
        wait_publishing(client, [descriptions], wanted=False)
        assert publishes_on(client, names)
        create_and_wait(2)
        second.unsubscribe([names])
        wait_publishing(client, [names], wanted=False)
        create_and_wait(3)

        assert len(listener.messages(names)) == 2
        assert len(listener.messages(descriptions)) == 1
        assert not [topic for topic, _ in listener.messages() if topic in invalid]
        assert len(listener.messages(f"{root}Things")) == 3
    problems = [r for r in caplog.records if r.levelno >= logging.WARNING and r.name.startswith("quartier")]
    assert problems == []


def test_select_topics_from_the_setting_need_no_broker_log(
    make_settings: Callable[..., Settings], shared_broker: None,
) -> None:
    settings = make_settings("sqlite")
    root = f"{settings.mqtt_prefix}v1.1/"
    topics = [f"{root}Things?$select=name", f"{root}Datastreams(1)/Observations?$select=result"]
    settings = dataclasses.replace(settings, mqtt_select_topics=" ".join(topics))
    with running(settings) as client, MqttClient(filters=topics) as subscriber:
        api = Api(client)
        assert new_datastream(api) == 1
        obs = api.create("Datastreams(1)/Observations", {"result": 3})
        thing = api.ok("Things")["value"][0]["@iot.id"]
        assert subscriber.wait_count(topics[0], 1) == [
            (topics[0], selected(client, f"Things({thing})", "name"))]
        assert subscriber.wait_count(topics[1], 1) == [(topics[1], b'{"result":3}')]
        assert selected(client, f"Observations({obs})", "result") == b'{"result":3}'


@PG_ONLY
def test_every_worker_publishes_on_the_select_topics(
    backend: str, make_settings: Callable[..., Settings], logging_broker: PrivateBroker,
) -> None:
    port = logging_broker.port
    settings = make_settings(backend, broker_port=port, workers=2)
    prefix = settings.mqtt_prefix
    topic = f"{prefix}v1.1/Things?$select=name"
    log_topic = "$SYS/broker/log/M/subscribe"
    options = ["--workers", "2", "--mqtt", settings.mqtt, "--mqtt-prefix", prefix,
               "--mqtt-client-id", settings.mqtt_client_id]
    with MqttClient(port, [log_topic]) as log_reader, serving(settings, *options) as (url, process):

        def workers_reading_the_log() -> int:
            lines = [p.decode() for p in log_reader.payloads(log_topic)]
            return len({line.split()[1] for line in lines
                        if line.endswith(f" {log_topic}") and settings.mqtt_client_id in line})

        wait_until(lambda: workers_reading_the_log() == 2, "both workers to read the broker's log")
        with MqttClient(port, [topic]) as subscriber:

            def post(i: int) -> int:
                with httpx.Client(timeout=30, headers=auth(url)) as http:  # either worker
                    response = http.post(f"{url}/Things", json={"name": f"Ding {i}", "description": "x"})
                    assert response.status_code == 201, response.text
                    return int(response.json()["@iot.id"])

            # The first message shows that the log line has arrived; both workers read it
            # at the same time.
            fence = 0
            while not subscriber.messages(topic):
                fence += 1
                post(-fence)
                time.sleep(0.2)
                assert fence < 100, "the platform never published on the $select topic"
            already = len(subscriber.messages(topic))
            with ThreadPoolExecutor(max_workers=8) as pool:
                posted = list(pool.map(post, range(30)))
            got = subscriber.wait_count(topic, already + 30)[already:]
            expected = [httpx.get(f"{url}/Things({thing})", params={"$select": "name"}).content
                        for thing in posted]
            assert sorted(payload for _, payload in got) == sorted(expected)
        assert process.poll() is None
