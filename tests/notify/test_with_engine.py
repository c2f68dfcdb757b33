"""Notifications from the rules engine's own alerts: a gauge climbs Meldestufe 1 to 3 and
falls back; the operators' webhook gets each change once, the public feed Alert, Update and
Cancel."""

from __future__ import annotations

import orjson
from lxml import etree

from conftest import Api
from notify.helpers import Platform, Receiver, wait_for
from rules.test_rules import gauge, make_rule, post_values

CAP = "{urn:oasis:names:tc:emergency:cap:1.2}"


def test_a_rising_gauge_reaches_the_webhook_and_the_feed(platform: Platform,
                                                         receiver: Receiver) -> None:
    client = platform.client
    platform.channel({"name": "leitstelle", "type": "webhook", "url": receiver.url})
    platform.channel({"name": "oeffentlich", "type": "cap",
                      "cap": {"sender": "warnung@lindbrueck.example"}})
    platform.channel({"name": "unbeteiligt", "type": "webhook", "url": f"{receiver.url}/other"})
    ds = gauge(Api(client), "Pegel Erlenbach")
    make_rule(client, {
        "name": "hochwasser", "target": {"datastream": ds}, "category": "Met",
        "notify": ["leitstelle", "oeffentlich"],
        "condition": {"type": "threshold", "above": [185, 230, 270, 320], "hysteresis": 5},
        "levels": [{"name": f"Meldestufe {i}", "severity": s}
                   for i, s in enumerate(["minor", "moderate", "severe", "extreme"], 1)]})
    post_values(Api(client), ds, [(58, 150), (55, 190), (50, 240), (45, 280), (40, 290),
                                  (35, 268), (30, 262), (25, 220), (20, 170)])
    platform.wake()
    expected = ["opened", "escalated", "escalated", "deescalated", "deescalated", "resolved"]
    wait_for(lambda: len(receiver.received) >= len(expected), "every change at the webhook")
    platform.run(platform.app.state.notifications.run_once)
    assert receiver.kinds() == expected
    assert all(h["path"] == "/hook" for h, _ in receiver.received)
    alert = orjson.loads(receiver.received[-1][1])["alert"]
    assert alert["status"] == "resolved" and alert["peak"] == 290

    published = list(reversed(platform.deliveries("oeffentlich")))
    documents = [etree.fromstring(client.get(f"/api/cap/{d['id']}.xml").content)
                 for d in published]
    assert [d.findtext(f"{CAP}msgType") for d in documents] == [
        "Alert", "Update", "Update", "Update", "Update", "Cancel"]
    assert [d.findtext(f"{CAP}info/{CAP}severity") for d in documents] == [
        "Minor", "Moderate", "Severe", "Moderate", "Minor", "Minor"]
    first = documents[0]
    assert first.findtext(f"{CAP}info/{CAP}category") == "Met"
    assert first.findtext(f"{CAP}info/{CAP}event") == "hochwasser"
    assert first.findtext(f"{CAP}info/{CAP}area/{CAP}areaDesc") == "Pegel Erlenbach"
    assert first.find(f"{CAP}info/{CAP}area/{CAP}circle") is not None
    assert len(documents[-1].findtext(f"{CAP}references").split()) == 5
