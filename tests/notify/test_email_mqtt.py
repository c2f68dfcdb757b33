"""E-mail through a real SMTP server (aiosmtpd) and MQTT through the real broker."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from email import message_from_bytes
from typing import Any

import orjson
import paho.mqtt.client as paho
import pytest
from aiosmtpd.controller import Controller

from conftest import TestClient, skip_or_fail
from notify.helpers import Platform, free_port, wait_for
from quartier.app import build_app
from quartier.settings import Settings

BROKER = "mqtt://127.0.0.1:1883"


class _Mailbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


@pytest.fixture
def mailbox() -> Iterator[tuple[_Mailbox, int]]:
    box = _Mailbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield box, port
    controller.stop()


def _settings(settings: Settings, **more: Any) -> Settings:
    return Settings.validated({"database": settings.database, "data_dir": settings.data_dir,
                               "notify_retry_seconds": 1, **more})


def test_email_arrives(settings: Settings, mailbox: tuple[_Mailbox, int]) -> None:
    box, port = mailbox
    smtp = _settings(settings, smtp_host="127.0.0.1", smtp_port=port,
                     smtp_from="warnung@lindbrueck.example")
    with TestClient(build_app(smtp)) as client:
        platform = Platform(client)
        platform.channel({"name": "bereitschaft", "type": "email",
                          "to": ["bereitschaft@lindbrueck.example", "bauhof@lindbrueck.example"]})
        alert = platform.open_alert(level=2, message="Der Pegel Erlenbach steigt über 180 cm.")
        platform.change(alert, "escalated", level=3)
        platform.wake()
        wait_for(lambda: len(box.messages) == 2, "two e-mails")
        [delivered, _] = wait_for(lambda: platform.deliveries("bereitschaft", status="delivered")
                                  if len(platform.deliveries("bereitschaft", status="delivered")) == 2
                                  else None, "both recorded")
        assert delivered["attempts"] == 1
    sender, recipients, raw = box.messages[0]
    assert sender == "warnung@lindbrueck.example"
    assert sorted(recipients) == ["bauhof@lindbrueck.example", "bereitschaft@lindbrueck.example"]
    mail = message_from_bytes(raw)
    assert mail["Subject"] == "[Quartier] Meldestufe 2: Pegel Erlenbach (opened)"
    body = mail.get_payload(decode=True).decode()
    assert "Der Pegel Erlenbach steigt über 180 cm." in body
    assert "Severity:    moderate" in body
    second = message_from_bytes(box.messages[1][2])
    assert second["Subject"] == "[Quartier] Meldestufe 3: Pegel Erlenbach (escalated)"
    assert int(second["X-Quartier-Event"]) > int(mail["X-Quartier-Event"])


def test_email_is_retried_while_the_server_is_away(settings: Settings) -> None:
    port = free_port()  # nothing listens there yet
    smtp = _settings(settings, smtp_host="127.0.0.1", smtp_port=port)
    box = _Mailbox()
    with TestClient(build_app(smtp)) as client:
        platform = Platform(client)
        platform.channel({"name": "bereitschaft", "type": "email", "to": "ops@lindbrueck.example"})
        platform.open_alert(level=2)
        platform.wake()
        wait_for(lambda: any(d["lastError"] for d in platform.deliveries("bereitschaft")),
                 "a failed attempt")
        controller = Controller(box, hostname="127.0.0.1", port=port)
        controller.start()
        try:
            wait_for(lambda: box.messages, "the e-mail once the server is there")
            [delivery] = wait_for(lambda: platform.deliveries("bereitschaft", status="delivered"),
                                  "its record")
        finally:
            controller.stop()
    assert delivery["attempts"] >= 2
    assert "SMTP" in delivery["attemptLog"][0]["error"]


def test_mqtt_message_arrives(settings: Settings) -> None:
    topic = f"quartier-test/{uuid.uuid4().hex[:8]}/alerts"
    got: list[bytes] = []
    subscribed = threading.Event()
    listener = paho.Client(paho.CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
    listener.on_subscribe = lambda *args: subscribed.set()
    listener.on_message = lambda c, u, m: got.append(bytes(m.payload))
    listener.on_connect = lambda c, *args: c.subscribe(topic, qos=1)
    try:
        listener.connect("127.0.0.1", 1883)
    except OSError as exc:
        skip_or_fail(f"no MQTT broker on 127.0.0.1:1883: {exc}")
    listener.loop_start()
    try:
        assert subscribed.wait(10), "the test's subscription was not acknowledged"
        with TestClient(build_app(_settings(settings, mqtt=BROKER))) as client:
            platform = Platform(client)
            platform.channel({"name": "leitwarte", "type": "mqtt", "topic": topic})
            alert = platform.open_alert(level=3)
            platform.change(alert, "resolved")
            platform.wake()
            wait_for(lambda: len(got) == 2, "two MQTT messages")
            wait_for(lambda: len(platform.deliveries("leitwarte", status="delivered")) == 2,
                     "both recorded")
    finally:
        listener.loop_stop()
        listener.disconnect()
    events = [orjson.loads(p) for p in got]
    assert [e["kind"] for e in events] == ["opened", "resolved"]
    assert events[0]["alert"]["severity"] == "severe"
