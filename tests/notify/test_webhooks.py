"""Webhooks: one signed POST per alert event, retried with backoff until the receiver takes
it, every attempt visible; nothing sent twice by two dispatchers on one database."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections import Counter
from datetime import UTC, datetime

import orjson

from conftest import TestClient
from notify.helpers import Platform, Receiver, change_alert, open_alert, wait_for
from quartier.app import build_app
from quartier.notify.dispatcher import Dispatcher
from quartier.settings import Settings
from quartier.store import open_store


def _valid(secret: str, headers: dict[str, str], body: bytes) -> bool:
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(headers["x-quartier-signature"], expected)


def test_one_signed_webhook_per_event(platform: Platform, receiver: Receiver) -> None:
    secret = platform.channel({"name": "leitstelle", "type": "webhook", "url": receiver.url})["secret"]
    alert = platform.open_alert(level=1)
    platform.change(alert, "escalated", level=2)
    platform.change(alert, "acknowledged", by="Erika Muster", comment="Bauhof ist unterwegs")
    platform.change(alert, "commented", by="Erika Muster", comment="not sent: not in events")
    platform.change(alert, "resolved")
    platform.wake()
    wait_for(lambda: len(receiver.received) >= 4, "four webhooks")
    events = platform.events(alert)
    sent = [orjson.loads(body) for _, body in receiver.received]
    assert [e["kind"] for e in sent] == ["opened", "escalated", "acknowledged", "resolved"]
    assert [e["id"] for e in sent] == [i for i, kind in events if kind != "commented"]
    for (headers, body), event in zip(receiver.received, sent, strict=True):
        assert _valid(secret, headers, body)
        assert headers["x-quartier-event"] == str(event["id"])
        assert headers["content-type"] == "application/json"
    assert sent[1]["alert"]["level"] == 2 and sent[1]["alert"]["severity"] == "moderate"
    assert sent[2]["by"] == "Erika Muster" and sent[2]["comment"] == "Bauhof ist unterwegs"
    assert sent[3]["alert"]["status"] == "resolved"
    assert sent[0]["tenant"] == "default"

    deliveries = platform.deliveries("leitstelle")
    assert [d["status"] for d in deliveries] == ["delivered"] * 4
    assert all(d["attempts"] == 1 and d["lastError"] is None for d in deliveries)
    # Nothing more goes out, however often the dispatcher looks.
    platform.run(platform.app.state.notifications.run_once)
    assert len(receiver.received) == 4


def test_a_failing_receiver_gets_it_later(platform: Platform, receiver: Receiver) -> None:
    secret = platform.channel({"name": "leitstelle", "type": "webhook", "url": receiver.url})["secret"]
    receiver.failures = 2
    alert = platform.open_alert(level=2)
    platform.wake()
    wait_for(lambda: receiver.received, "the webhook after two failures")
    headers, body = receiver.received[0]
    assert _valid(secret, headers, body)
    assert receiver.refused == 2
    [delivery] = wait_for(lambda: [d for d in platform.deliveries("leitstelle")
                                   if d["status"] == "delivered"], "the delivery to be recorded")
    assert delivery["attempts"] == 3
    assert delivery["alertId"] == alert
    log = delivery["attemptLog"]
    assert [a["attempt"] for a in log] == [1, 2, 3]
    assert "500" in log[0]["error"] and "500" in log[1]["error"] and log[2]["error"] is None
    one = platform.client.get(f"/api/channels/leitstelle/deliveries/{delivery['id']}")
    assert one.json() == delivery


def test_given_up_deliveries_stay_visible_and_can_be_retried(
        settings: Settings, receiver: Receiver) -> None:
    impatient = Settings.validated({"database": settings.database, "data_dir": settings.data_dir,
                                    "notify_retry_seconds": 1, "notify_max_attempts": 2})
    with TestClient(build_app(impatient)) as client:
        platform = Platform(client)
        platform.channel({"name": "leitstelle", "type": "webhook", "url": receiver.url})
        receiver.failures = 1_000
        platform.open_alert(level=3)
        platform.wake()
        [failed] = wait_for(lambda: platform.deliveries("leitstelle", status="failed"),
                            "the delivery to be given up")
        assert failed["attempts"] == 2
        assert "500" in failed["lastError"]
        receiver.failures = 0
        retried = client.post(f"/api/channels/leitstelle/deliveries/{failed['id']}/retry")
        assert retried.status_code == 202, retried.text
        wait_for(lambda: receiver.received, "the retried webhook")
        wait_for(lambda: platform.deliveries("leitstelle", status="delivered"), "its record")
        assert client.post("/api/channels/leitstelle/deliveries/999999/retry").status_code == 404


def test_two_dispatchers_send_each_event_once(settings: Settings, receiver: Receiver) -> None:
    """Two processes' dispatchers (two stores) on one database, racing for the same events."""

    async def scenario() -> None:
        stores = [open_store(settings), open_store(settings)]
        for store in stores:
            await store.open()
        try:
            from quartier.notify import channels

            config = channels.parse_channel({"name": "leitstelle", "type": "webhook",
                                             "url": receiver.url}, settings)
            await channels.create(stores[0], 1, config)
            dispatchers = [Dispatcher(store, settings, poll=0.01) for store in stores]
            for dispatcher in dispatchers:
                dispatcher.start()
            alerts = []
            for i in range(10):
                alert = await open_alert(stores[i % 2], {"level": 1})
                await change_alert(stores[(i + 1) % 2], alert, "escalated", {"level": 2})
                await change_alert(stores[i % 2], alert, "resolved", {})
                alerts.append(alert)
            for _ in range(2000):
                if len(receiver.received) >= 30:
                    break
                await asyncio.sleep(0.02)
            for _ in range(20):  # both keep looking for a while: nothing more may come
                for dispatcher in dispatchers:
                    await dispatcher.run_once()
            for dispatcher in dispatchers:
                await dispatcher.stop()
        finally:
            for store in stores:
                await store.close()

    asyncio.run(scenario())
    ids = Counter(headers["x-quartier-event"] for headers, _ in receiver.received)
    assert len(ids) == 30
    assert set(ids.values()) == {1}


def test_events_before_a_restart_are_sent_after_it(settings: Settings, receiver: Receiver) -> None:
    """Events written while no server runs go out when one starts, once."""
    with TestClient(build_app(settings)) as client:
        Platform(client).channel({"name": "leitstelle", "type": "webhook", "url": receiver.url})

    async def write_while_down() -> None:
        store = open_store(settings)
        await store.open()
        try:
            alert = await open_alert(store, {"level": 2, "at": datetime.now(UTC)})
            await change_alert(store, alert, "escalated", {"level": 3})
        finally:
            await store.close()

    asyncio.run(write_while_down())
    assert receiver.received == []
    for _ in range(2):  # a second start sends nothing again
        with TestClient(build_app(settings)) as client:
            running = Platform(client)
            wait_for(lambda r=running: len(r.deliveries("leitstelle", status="delivered")) == 2,
                     "both deliveries")
    assert [orjson.loads(b)["kind"] for _, b in receiver.received] == ["opened", "escalated"]
