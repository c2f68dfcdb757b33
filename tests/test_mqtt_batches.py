"""MQTT messages that arrive together are stored together (one write for the messages of
one read), with the guarantees of one message at a time: a bad message is kept as a
dead letter alone, the good ones are stored and announced with their GET answer, and
none is acknowledged to the broker before its Observation is committed.

Against a real Mosquitto and real databases, as :mod:`test_mqtt`.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable
from pathlib import Path

import asyncpg

from conftest import Api
from quartier.settings import Settings
from test_mqtt import (
    PG_ONLY,
    SQL_BACKENDS,
    TIMEOUT,
    MqttClient,
    PrivateBroker,
    bad_messages,
    count,
    id_of,
    letters,
    make_settings,  # noqa: F401 (a fixture)
    new_datastream,
    running,
    shared_broker,  # noqa: F401 (a fixture)
    started_broker,
    wait_until,
)

GOOD = 60


def _publish_all(sensor: MqttClient, messages: list[tuple[str, bytes]]) -> None:
    """Publish without waiting between messages, so that they reach the platform in few
    reads; returns once the broker has taken them all."""
    infos = [sensor._client.publish(topic, payload, qos=1) for topic, payload in messages]
    for info in infos:
        info.wait_for_publish(TIMEOUT)
        assert info.is_published()


def _mixed(root: str, prefix: str, ds: int) -> tuple[list[tuple[str, bytes]], list[tuple[str, bytes, str]]]:
    """GOOD messages for Datastream ``ds`` with the bad ones of :func:`bad_messages`
    spread among them."""
    bad = bad_messages(root, prefix, ds)
    messages = [(f"{root}Datastreams({ds})/Observations",
                 json.dumps({"result": n, "phenomenonTime": f"2026-03-01T10:{n:02d}:00Z"}).encode())
                for n in range(GOOD)]
    for index, (topic, payload, _) in enumerate(bad):
        messages.insert(1 + index * (GOOD // len(bad)), (topic, payload))
    return messages, bad


@SQL_BACKENDS
def test_bad_messages_among_good_ones_become_dead_letters_alone(
    backend: str, make_settings: Callable[..., Settings], shared_broker: None,  # noqa: F811
) -> None:
    settings = make_settings(backend)
    prefix = settings.mqtt_prefix
    root = f"{prefix}v1.1/"
    with running(settings) as client, MqttClient(filters=[f"{root}Observations"]) as listener, \
            MqttClient() as sensor:
        api = Api(client)
        ds = new_datastream(api)
        messages, bad = _mixed(root, prefix, ds)
        _publish_all(sensor, messages)
        wait_until(lambda: count(api) >= GOOD, f"{GOOD} Observations")
        wait_until(lambda: letters(client)["total"] >= len(bad), f"{len(bad)} dead letters")

        stored = api.ok("Observations", **{"$orderby": "result", "$top": "1000"})["value"]
        assert [o["result"] for o in stored] == list(range(GOOD))
        kept = {(x["address"], x["payload"]): x for x in letters(client)["value"]}
        assert len(kept) == len(bad) == letters(client)["total"]
        for topic, payload, named in bad:
            letter = kept[(topic, payload.decode())]
            assert named in letter["reason"], letter
            assert letter["reason"][:3] in ("400", "404"), letter
            assert letter["attempts"] == 1
        # The rejected messages' inline FeaturesOfInterest were not written.
        assert api.ok("FeaturesOfInterest", **{"$filter": "name eq 'nie'"})["value"] == []

        # Each stored Observation announced once, byte for byte what GET answers. (The
        # listener hears the sensor's bad messages to the same topic too.)
        wait_until(lambda: len(_announced(listener, root)) >= GOOD, f"{GOOD} announcements")
        time.sleep(0.5)  # anything announced twice would arrive meanwhile
        announced = _announced(listener, root)
        assert sorted(id_of(p) for _, p in announced) == sorted(o["@iot.id"] for o in stored)
        for _, payload in announced:
            assert payload == client.get(f"/v1.1/Observations({id_of(payload)})").content


def _announced(listener: MqttClient, root: str) -> list[tuple[str, bytes]]:
    """The platform's announcements on ``Observations``, not the sensor's messages."""
    return [(t, p) for t, p in listener.messages(f"{root}Observations") if b"@iot.selfLink" in p]


# Mosquitto's debug log names each PUBLISH it sends a client (with its packet id, topic and
# payload size) and each PUBACK it receives.
_SENT = re.compile(r"Sending PUBLISH to (\S+) \(d\d, q1, r\d, m(\d+), '([^']*)', \.\.\. \((\d+) bytes\)\)")
_ACKED = re.compile(r"Received PUBACK from (\S+) \(Mid: (\d+)")


def _acknowledged(log: Path, client_id: str, topic: str, since: int,
                  sizes: set[int] | None = None) -> tuple[int, int]:
    """(messages on ``topic`` the broker sent ``client_id``, how many of them it has
    acknowledged), in the log after its first ``since`` bytes; only messages of one of
    the payload ``sizes`` when given."""
    waiting: set[int] = set()
    sent = acked = 0
    for line in log.read_text(errors="replace")[since:].splitlines():
        found = _SENT.search(line)
        if found and found[1] == client_id and found[3] == topic and (
                sizes is None or int(found[4]) in sizes):
            sent += 1
            waiting.add(int(found[2]))
            continue
        found = _ACKED.search(line)
        if found and found[1] == client_id and int(found[2]) in waiting:
            waiting.discard(int(found[2]))
            acked += 1
    return sent, acked


@PG_ONLY
def test_a_read_of_messages_is_acknowledged_only_after_its_commit(
    backend: str, make_settings: Callable[..., Settings], tmp_path: Path,  # noqa: F811
) -> None:
    """While PostgreSQL holds the write of a burst back (a lock on its Datastream), the
    broker has no PUBACK for any of its good messages; after the commit it has one for
    each, and the bad ones among them are dead letters."""
    with started_broker(tmp_path / "broker", "log_type all\nmax_queued_messages 0\n") as broker:
        _acknowledged_after_commit(broker, make_settings(backend, broker.port))


def _acknowledged_after_commit(broker: PrivateBroker, settings: Settings) -> None:
    prefix = settings.mqtt_prefix
    root = f"{prefix}v1.1/"
    log = broker.directory / "mosquitto.log"
    loop = asyncio.new_event_loop()
    with running(settings) as client, MqttClient(broker.port) as sensor:
        api = Api(client)
        ds = new_datastream(api)
        topic = f"{root}Datastreams({ds})/Observations"
        sensor.publish(topic, {"result": -1})  # the FeatureOfInterest is made first
        wait_until(lambda: count(api) == 1, "the first Observation")
        holder = loop.run_until_complete(asyncpg.connect(settings.database))
        watcher = loop.run_until_complete(asyncpg.connect(settings.database))
        try:
            lock = holder.transaction()
            loop.run_until_complete(lock.start())
            loop.run_until_complete(
                holder.execute("SELECT id FROM datastreams WHERE id = $1 FOR UPDATE", ds))
            mark = len(log.read_text(errors="replace"))
            messages, bad = _mixed(root, prefix, ds)
            _publish_all(sensor, messages)

            def waiting() -> int:
                return int(loop.run_until_complete(watcher.fetchval(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND wait_event_type = 'Lock'")))

            wait_until(lambda: waiting() >= 1, "a write waiting for the Datastream")
            wait_until(lambda: _acknowledged(log, settings.mqtt_client_id, topic, mark)[0] >= GOOD,
                       "the broker to deliver the burst")
            time.sleep(1.0)  # time enough for a PUBACK sent too early to reach the broker
            assert count(api) == 1
            same_topic = GOOD + sum(1 for t, _, _ in bad if t == topic)
            assert _acknowledged(log, settings.mqtt_client_id, topic, mark)[0] == same_topic
            # A bad message on the topic may be acknowledged as soon as it is a dead letter
            # (when a read holds it alone); a good one only after its commit.
            good_sizes = {len(p) for t, p in messages if t == topic} - {len(p) for t, p, _ in bad}
            assert _acknowledged(log, settings.mqtt_client_id, topic, mark, good_sizes) == (GOOD, 0)
            loop.run_until_complete(lock.commit())
        finally:
            loop.run_until_complete(holder.close())
            loop.run_until_complete(watcher.close())
            loop.close()
        wait_until(lambda: count(api) == GOOD + 1, f"{GOOD} more Observations")
        wait_until(lambda: letters(client)["total"] == len(bad), f"{len(bad)} dead letters")
        wait_until(lambda: _acknowledged(log, settings.mqtt_client_id, topic, mark)[1] == same_topic,
                   "a PUBACK for every message on the Datastream's topic")
