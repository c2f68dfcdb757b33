"""How simulated devices talk to Quartier: the same roads real devices take.

* ``http``: SensorThings ``POST CreateObservations`` (gauges, rain gauges, counters, and the
  MQTT devices when no broker is configured);
* ``mqtt``: SensorThings MQTT, one message per value on ``v1.1/Datastreams(id)/Observations``;
* ``tts`` and ``chirpstack``: uplinks as The Things Stack v3 and ChirpStack v4 post them to
  the town's webhook integrations, decoded fields included.

A reading marked bad is sent garbled in the way its road allows (JSON cut short, an uplink
with an undecodable payload), so that Quartier refuses it and keeps it as a dead letter.
The backfill takes the bulk path for every device: ``CreateObservations`` with dataArrays.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import uuid
from collections import Counter
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

import httpx2 as httpx
import orjson

from quartier.demo.clock import iso, phase
from quartier.demo.devices import Reading, SimDevice
from quartier.demo.provision import Provisioned

log = logging.getLogger("quartier.demo")

BACKFILL_ROWS = 20_000  # Observations per CreateObservations request of the backfill
_GATEWAYS = [("gw-rathaus", "B827EBFFFE8B01DD"), ("gw-wasserwerk", "B827EBFFFE8B01DE"),
             ("gw-betriebshof", "B827EBFFFE8B01DF")]


class Channels:
    """Sends readings; counts what was accepted, refused (4xx) and what failed."""

    def __init__(self, client: httpx.AsyncClient, provisioned: Provisioned, prefix: str = "",
                 tenant: str = "", mqtt_url: str | None = None, mqtt_prefix: str = "",
                 concurrency: int = 16) -> None:
        self.client = client
        self.ids = provisioned.datastreams
        self.provisioned = provisioned
        self.sta = f"{prefix}/v1.1"
        self.api = f"{prefix}/api"
        self.topic_root = mqtt_prefix + (f"t/{tenant}/" if tenant else "") + "v1.1/"
        self.mqtt_url = mqtt_url
        self.limit = asyncio.Semaphore(concurrency)
        self.session = uuid.uuid4().hex[:12]  # a new LoRaWAN session per run
        self.frames: Counter[str] = Counter()
        self.sent: Counter[str] = Counter()  # channel -> messages accepted
        self.refused: Counter[str] = Counter()  # channel -> messages refused (dead letters)
        self.failed: Counter[str] = Counter()
        self.observations = 0
        self.mqtt_messages = 0  # good messages the broker acknowledged
        self._mqtt: Any = None

    # -- lifecycle --------------------------------------------------------------------

    async def start(self) -> None:
        if self.mqtt_url:
            self._mqtt = await asyncio.to_thread(_connect_mqtt, self.mqtt_url, self.session)

    async def close(self) -> None:
        if self._mqtt is not None:
            client = self._mqtt
            self._mqtt = None
            client.disconnect()
            await asyncio.to_thread(client.loop_stop)

    # -- backfill ---------------------------------------------------------------------

    async def backfill(self, devices: Iterable[SimDevice], start: float, end: float,
                       in_flight: int = 2) -> int:
        """Every reading of ``devices`` in [start, end) by CreateObservations; the count."""
        rows: dict[int, list[list[Any]]] = {}
        pending = 0
        written = 0
        slots = asyncio.Semaphore(in_flight)
        tasks: set[asyncio.Task[int]] = set()

        async def flush(batch: dict[int, list[list[Any]]]) -> int:
            try:
                return await self._create_observations(batch)
            finally:
                slots.release()

        for device in devices:
            for reading in device.readings(start, end):
                if reading.bad:
                    continue
                stamp = iso(reading.t)
                for key, value in reading.values.items():
                    rows.setdefault(self.ids[(device.key, key)], []).append([stamp, value])
                    pending += 1
                if pending >= BACKFILL_ROWS:
                    await slots.acquire()
                    tasks.add(asyncio.create_task(flush(rows)))
                    rows, pending = {}, 0
            done = {t for t in tasks if t.done()}
            for task in done:
                written += task.result()
            tasks -= done
            await asyncio.sleep(0)
        if rows:
            await slots.acquire()
            tasks.add(asyncio.create_task(flush(rows)))
        for task in tasks:
            written += await task
        return written

    async def _create_observations(self, rows: dict[int, list[list[Any]]]) -> int:
        body = [{"Datastream": {"@iot.id": ds}, "components": ["phenomenonTime", "result"],
                 "dataArray": data} for ds, data in rows.items()]
        response = await self.client.post(f"{self.sta}/CreateObservations",
                                          content=orjson.dumps(body),
                                          headers={"Content-Type": "application/json"})
        if response.status_code != 201:
            raise RuntimeError(f"CreateObservations: {response.status_code} {response.text[:300]}")
        links = response.json()
        errors = [link for link in links if not str(link).startswith("http")]
        if errors:
            raise RuntimeError(f"CreateObservations refused {len(errors)} rows: {errors[0]}")
        self.observations += len(links)
        return len(links)

    # -- live -------------------------------------------------------------------------

    async def send(self, readings: list[Reading]) -> None:
        """One window of the live run: HTTP readings in one request, the rest one by one."""
        http = [r for r in readings if r.device.channel == "http" and not r.bad]
        jobs = [self._send_one(r) for r in readings if r.device.channel != "http" or r.bad]
        if http:
            jobs.append(self._send_http(http))
        await asyncio.gather(*jobs)

    async def _send_http(self, readings: list[Reading]) -> None:
        rows: dict[int, list[list[Any]]] = {}
        for r in readings:
            for key, value in r.values.items():
                rows.setdefault(self.ids[(r.device.key, key)], []).append([iso(r.t), value])
        async with self.limit:
            try:
                await self._create_observations(rows)
                self.sent["http"] += len(readings)
            except (RuntimeError, httpx.HTTPError) as exc:
                self.failed["http"] += len(readings)
                log.warning("could not send %d readings: %s", len(readings), exc)

    async def _send_one(self, reading: Reading) -> None:
        channel = reading.device.channel
        async with self.limit:
            try:
                if channel == "mqtt":
                    accepted = await self._publish(reading)
                elif channel in ("tts", "chirpstack"):
                    accepted = await self._uplink(reading)
                else:
                    accepted = await self._post_bad(reading)
            except (httpx.HTTPError, OSError, RuntimeError) as exc:
                self.failed[channel] += 1
                log.warning("%s: could not send a reading of %s: %s", channel, reading.device.key, exc)
                return
        (self.sent if accepted else self.refused)[channel] += 1

    async def _post_bad(self, reading: Reading) -> bool:
        ds = self.ids[(reading.device.key, reading.device.fields[0].key)]
        response = await self.client.post(f"{self.sta}/Datastreams({ds})/Observations",
                                          content=b'{"phenomenonTime": "yesterday", "result": ',
                                          headers={"Content-Type": "application/json"})
        return response.status_code < 400

    async def _publish(self, reading: Reading) -> bool:
        """One message per value, QoS 1; a bad reading is one message cut short, which
        Quartier keeps as a dead letter."""
        infos = []
        for key, value in reading.values.items():
            topic = f"{self.topic_root}Datastreams({self.ids[(reading.device.key, key)]})/Observations"
            payload = orjson.dumps({"phenomenonTime": iso(reading.t), "result": value})
            if reading.bad:
                payload = payload[: len(payload) // 2]
            infos.append(self._mqtt.publish(topic, payload, qos=1))
            if reading.bad:
                break
        await asyncio.to_thread(_wait_published, infos)
        if not reading.bad:
            self.observations += len(infos)
            self.mqtt_messages += len(infos)
        return not reading.bad

    async def _uplink(self, reading: Reading) -> bool:
        device = reading.device
        network = device.channel
        eui = device.dev_eui or ""
        self.frames[eui] += 1
        body = (_tts(reading, eui, self.session, self.frames[eui]) if network == "tts"
                else _chirpstack(reading, eui, self.frames[eui]))
        name = self.provisioned.integrations[network]
        params = {"event": "up"} if network == "chirpstack" else None
        response = await self.client.post(
            f"{self.api}/lorawan/{name}/uplink", params=params, content=orjson.dumps(body),
            headers={"Content-Type": "application/json",
                     "Authorization": f"Bearer {self.provisioned.secrets[network]}"})
        if response.status_code >= 500:
            raise RuntimeError(f"{response.status_code} {response.text[:200]}")
        if response.status_code < 300:
            self.observations += len(reading.values)
            return True
        return False


def _radio(reading: Reading) -> tuple[str, str, float, float]:
    gateway, gateway_eui = _GATEWAYS[int(phase(reading.device.key, len(_GATEWAYS)))]
    rng = reading.device.rng
    return gateway, gateway_eui, round(rng.uniform(-118, -70)), round(rng.uniform(-8, 10), 1)


def _tts(reading: Reading, eui: str, session: str, frame: int) -> dict[str, Any]:
    gateway, gateway_eui, rssi, snr = _radio(reading)
    stamp = iso(reading.t)
    message: dict[str, Any] = {
        "session_key_id": base64.b64encode(f"{session}{eui}".encode()).decode(),
        "f_port": 1, "f_cnt": frame,
        "rx_metadata": [{"gateway_ids": {"gateway_id": gateway, "eui": gateway_eui},
                         "rssi": rssi, "channel_rssi": rssi, "snr": snr}],
        "settings": {"data_rate": {"lora": {"bandwidth": 125000, "spreading_factor": 9}},
                     "frequency": "868300000"},
        "received_at": stamp,
    }
    if reading.bad:
        message["frm_payload"] = base64.b64encode(b"\xff\x00\x13\x37").decode()
    else:
        message["decoded_payload"] = reading.values
    return {"end_device_ids": {"device_id": reading.device.key.lower(), "dev_eui": eui,
                               "application_ids": {"application_id": "stadt"}},
            "received_at": stamp, "uplink_message": message}


def _chirpstack(reading: Reading, eui: str, frame: int) -> dict[str, Any]:
    _, gateway_eui, rssi, snr = _radio(reading)
    body: dict[str, Any] = {
        "deduplicationId": str(uuid.uuid4()),
        "time": iso(reading.t),
        "deviceInfo": {"deviceName": reading.device.key.lower(), "devEui": eui.lower(),
                       "applicationId": "parking", "deviceProfileName": reading.device.profile},
        "fCnt": frame, "fPort": 1, "dr": 3,
        "rxInfo": [{"gatewayId": gateway_eui.lower(), "rssi": rssi, "snr": snr}],
        "txInfo": {"frequency": 868100000,
                   "modulation": {"lora": {"bandwidth": 125000, "spreadingFactor": 9}}},
    }
    if reading.bad:
        body["data"] = base64.b64encode(b"\x00\xde\xad").decode()
    else:
        body["object"] = reading.values
    return body


def _connect_mqtt(url: str, session: str) -> Any:
    import paho.mqtt.client as mqtt

    parts = urlsplit(url)
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"quartier-demo-{session}",
                         protocol=mqtt.MQTTv5)
    if parts.username:
        client.username_pw_set(parts.username, parts.password)
    client.connect(parts.hostname or "127.0.0.1", parts.port or 1883)
    client.loop_start()
    return client


def _wait_published(infos: list[Any]) -> None:
    for info in infos:
        info.wait_for_publish(timeout=30)
        if not info.is_published():
            raise RuntimeError("the broker did not acknowledge a message within 30 s")
