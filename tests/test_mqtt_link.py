"""The platform's own MQTT 5 connection (:mod:`quartier.mqtt.link`) against the real
Mosquitto on 127.0.0.1:1883, and acknowledgement after the commit with a real server
process that is killed before it could commit."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from collections.abc import Callable
from uuid import uuid4

import asyncpg
import httpx2 as httpx
import pytest

from quartier.mqtt.link import BrokerLink, Message
from quartier.settings import Settings
from test_mqtt import (
    SHARED_PORT,
    MqttClient,
    drop_session,
    make_settings,  # noqa: F401 (a fixture)
    shared_broker,  # noqa: F401 (a fixture)
    wait_until,
)
from test_server_process import _datastream, serving

URL = f"mqtt://127.0.0.1:{SHARED_PORT}"


async def _connected(link: BrokerLink) -> BrokerLink:
    link.start()
    await asyncio.wait_for(link.connected.wait(), 10)
    return link


async def _take(link: BrokerLink, count: int) -> list[Message]:
    out: list[Message] = []
    while len(out) < count:
        out += await asyncio.wait_for(link.receive_many(count - len(out)), 10)
    return out


async def _subscribed(publisher: BrokerLink, receiver: BrokerLink, topic: str) -> None:
    """Publish probes until the receiver gets one: its SUBSCRIBE is then in force."""
    while True:
        publisher.publish(topic, b"probe")
        try:
            message = await asyncio.wait_for(receiver.receive(), 0.2)
        except TimeoutError:
            continue
        receiver.ack(message)
        await asyncio.sleep(0.2)  # probes still on their way
        while receiver._inbox:
            receiver.ack(await receiver.receive())
        return


@pytest.mark.usefixtures("shared_broker")
def test_messages_of_any_size_arrive_whole_and_in_order() -> None:
    tag = uuid4().hex[:8]
    topic = f"linktest{tag}/data"
    payloads = [json.dumps({"n": n}).encode() for n in range(3000)]
    payloads[1500] = b"x" * 70_000  # a remaining length of three bytes
    payloads[1501] = b""

    async def run() -> None:
        receiver = await _connected(BrokerLink(URL, f"link-r-{tag}", [topic]))
        sender = await _connected(BrokerLink(URL, f"link-s-{tag}", []))
        try:
            await _subscribed(sender, receiver, topic)
            got: list[Message] = []
            # In runs of 500: the shared broker keeps at most 1,000 messages for a client.
            for start in range(0, len(payloads), 500):
                for payload in payloads[start:start + 500]:
                    sender.publish(topic, payload)
                run = await _take(receiver, len(payloads[start:start + 500]))
                for message in run:
                    receiver.ack(message)
                got += run
            assert [m.payload for m in got] == payloads
            assert all(m.topic == topic and m.qos == 1 and m.own for m in got)
            deadline = time.monotonic() + 10
            while sender.pending() and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            assert sender.pending() == 0  # the broker acknowledged every publication
        finally:
            await sender.stop(end_session=True)
            await receiver.stop(end_session=True)

    asyncio.run(run())


@pytest.mark.usefixtures("shared_broker")
def test_publications_at_qos_0_arrive_whole_in_order_and_wait_for_nothing() -> None:
    """``publish_qos=0`` (the setting mqtt_announce_qos): the broker passes the messages on
    at QoS 0, acknowledges none, and the link keeps nothing waiting; a burst larger than
    the socket's send buffer still arrives whole, after :meth:`BrokerLink.room`."""
    tag = uuid4().hex[:8]
    topic = f"linktest{tag}/data"
    payloads = [json.dumps({"n": n, "pad": "x" * 200}).encode() for n in range(900)]

    async def run() -> None:
        receiver = await _connected(BrokerLink(URL, f"link-r-{tag}", [topic]))
        sender = await _connected(BrokerLink(URL, f"link-s-{tag}", [], publish_qos=0))
        try:
            await _subscribed(sender, receiver, topic)
            for payload in payloads:  # about 200 KB in one turn of the event loop
                await sender.room()
                sender.publish(topic, payload)
            assert sender.pending() == 0  # nothing awaits an acknowledgement
            got = await _take(receiver, len(payloads))
            assert [m.payload for m in got] == payloads
            assert all(m.qos == 0 and m.own and m.topic == topic for m in got)
        finally:
            await sender.stop(end_session=True)
            await receiver.stop(end_session=True)

    asyncio.run(run())


@pytest.mark.usefixtures("shared_broker")
def test_an_unacknowledged_message_comes_again_and_an_acknowledged_one_does_not() -> None:
    tag = uuid4().hex[:8]
    topic = f"linktest{tag}/data"
    client_id = f"link-r-{tag}"

    async def run() -> None:
        sender = await _connected(BrokerLink(URL, f"link-s-{tag}", []))
        first = await _connected(BrokerLink(URL, client_id, [topic]))
        try:
            await _subscribed(sender, first, topic)
            sender.publish(topic, b"kept")
            (message,) = await _take(first, 1)
            await first.stop()  # not acknowledged: the session keeps it
            first.ack(message)  # too late, and on no connection: nothing is sent

            second = await _connected(BrokerLink(URL, client_id, [topic]))
            (again,) = await _take(second, 1)
            assert again.payload == b"kept"
            second.ack(again)
            await asyncio.sleep(0.3)  # the PUBACK reaches the broker before we leave
            await second.stop()

            third = await _connected(BrokerLink(URL, client_id, [topic]))
            sender.publish(topic, b"fence")
            (fence,) = await _take(third, 1)
            assert fence.payload == b"fence"  # "kept" did not come a third time
            third.ack(fence)
            await asyncio.sleep(0.3)
            await third.stop(end_session=True)
        finally:
            await sender.stop(end_session=True)
            drop_session(SHARED_PORT, client_id)

    asyncio.run(run())


@pytest.mark.usefixtures("shared_broker")
@pytest.mark.parametrize("backend", ["postgresql"])
def test_a_message_is_acknowledged_only_after_its_commit(
    backend: str, make_settings: Callable[..., Settings],  # noqa: F811
) -> None:
    """While the database holds the write back, the server is killed: the broker still has
    the message (it was not acknowledged) and gives it to the restarted server, which
    stores it once."""
    settings = make_settings(backend)
    assert settings.database
    extra = ["--mqtt", settings.mqtt, "--mqtt-prefix", settings.mqtt_prefix,
             "--mqtt-client-id", settings.mqtt_client_id]
    database = settings.database

    async def lock_observations() -> asyncpg.Connection:
        conn = await asyncpg.connect(database)
        await conn.execute("BEGIN; LOCK TABLE observations IN SHARE MODE")
        return conn

    async def waiting_inserts() -> int:
        conn = await asyncpg.connect(database)
        try:
            return int(await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND query ILIKE '%INSERT INTO observations%'"))
        finally:
            await conn.close()

    async def stored() -> list[float]:
        conn = await asyncpg.connect(database)
        try:
            return [float(r[0]) for r in await conn.fetch("SELECT result_number FROM observations")]
        finally:
            await conn.close()

    with serving(settings, *extra) as (url, process):
        ds = _datastream(url)
        topic = f"{settings.mqtt_prefix}v1.1/Datastreams({ds})/Observations"
        wait_until(lambda: httpx.get(f"{url}/Datastreams({ds})").status_code == 200, "the Datastream")
        with MqttClient() as sensor:  # the platform's subscription is in place once this is
            wait_until(lambda: sensor.publish(topic, {"result": 1}).value == 0, "a subscriber")
        wait_until(lambda: asyncio.run(stored()) == [1.0], "the first Observation")
        lock_loop = asyncio.new_event_loop()  # the lock's connection lives in its own loop
        lock = lock_loop.run_until_complete(lock_observations())
        try:
            with MqttClient() as sensor:
                sensor.publish(topic, {"result": 2})
            wait_until(lambda: asyncio.run(waiting_inserts()) >= 1,
                       "the server's INSERT to wait for the lock")
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
        finally:
            lock_loop.run_until_complete(lock.close())
            lock_loop.close()
    assert asyncio.run(stored()) == [1.0]  # never committed
    with serving(settings, *extra):
        wait_until(lambda: sorted(asyncio.run(stored())) == [1.0, 2.0],
                   "the message the broker gave again to the restarted server")
        time.sleep(1.0)
        assert sorted(asyncio.run(stored())) == [1.0, 2.0]  # once
