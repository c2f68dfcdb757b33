"""The public warning feed: CAP 1.2 messages whose msgType follows the alert (Alert,
Update, Cancel) with references to the earlier ones, valid against the CAP structure, as
XML, JSON, and an Atom feed."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from notify.helpers import Platform, wait_for

CAP = "{urn:oasis:names:tc:emergency:cap:1.2}"
ATOM = "{http://www.w3.org/2005/Atom}"
SCHEMA = etree.XMLSchema(etree.parse(str(Path(__file__).with_name("cap12.xsd"))))
GAUGE = {"type": "Feature", "properties": {"name": "Pegel Erlenbach, Mühlenbrücke"},
         "geometry": {"type": "Point", "coordinates": [9.18, 48.78]}}
DISTRICT = {"type": "Polygon", "coordinates": [[[9.1, 48.7], [9.3, 48.7], [9.3, 48.9], [9.1, 48.7]]]}


def _published(platform: Platform, channel: str, count: int) -> list[dict[str, Any]]:
    platform.run(platform.app.state.notifications.run_once)
    return list(reversed(wait_for(
        lambda: (found := platform.deliveries(channel)) and len(found) == count and found,
        f"{count} CAP messages")))


def _xml(platform: Platform, message_id: int) -> etree._Element:
    response = platform.client.get(f"/api/cap/{message_id}.xml")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/cap+xml")
    document = etree.fromstring(response.content)
    SCHEMA.assertValid(document)
    return document


def _text(element: etree._Element, path: str) -> str:
    found = element.findtext(path.replace("cap:", CAP))
    assert found is not None, path
    return str(found)


def test_alert_update_cancel(platform: Platform) -> None:
    platform.channel({"name": "oeffentlich", "type": "cap",
                      "cap": {"sender": "warnung@lindbrueck.example", "senderName": "Stadt Lindbrück",
                              "category": "Infra", "instruction": "Meiden Sie das Ufer.",
                              "web": "https://lindbrueck.example/pegel"}})
    rule = platform.rule("Hochwasser", {"category": "Met"})  # the rule's category wins
    alert = platform.open_alert(level=1, area=GAUGE, rule_id=rule, rule="Hochwasser",
                                message="Der Erlenbach steigt an der Mühlenbrücke.")
    platform.change(alert, "escalated", level=2)
    platform.change(alert, "acknowledged", by="Erika Muster")  # internal: not published
    platform.change(alert, "escalated", level=3)
    platform.change(alert, "deescalated", level=2)
    platform.change(alert, "resolved")
    published = _published(platform, "oeffentlich", 5)
    documents = [_xml(platform, d["id"]) for d in published]
    assert [_text(d, "cap:msgType") for d in documents] == ["Alert", "Update", "Update", "Update",
                                                            "Cancel"]
    triples = [f"{_text(d, 'cap:sender')},{_text(d, 'cap:identifier')},{_text(d, 'cap:sent')}"
               for d in documents]
    for i, document in enumerate(documents):
        assert _text(document, "cap:status") == "Actual"
        assert _text(document, "cap:scope") == "Public"
        assert _text(document, "cap:sender") == "warnung@lindbrueck.example"
        assert _text(document, "cap:sent").endswith("-00:00")
        references = document.findtext(f"{CAP}references")
        assert (references.split() if references else []) == triples[:i]
    severities = [_text(d, "cap:info/cap:severity") for d in documents]
    assert severities == ["Minor", "Moderate", "Severe", "Moderate", "Moderate"]
    first = documents[0]
    assert _text(first, "cap:info/cap:category") == "Met"
    assert _text(first, "cap:info/cap:event") == "Hochwasser"
    assert _text(first, "cap:info/cap:headline") == "Meldestufe 1: Hochwasser"
    assert _text(first, "cap:info/cap:description") == "Der Erlenbach steigt an der Mühlenbrücke."
    assert _text(first, "cap:info/cap:instruction") == "Meiden Sie das Ufer."
    assert _text(first, "cap:info/cap:senderName") == "Stadt Lindbrück"
    assert _text(first, "cap:info/cap:area/cap:areaDesc") == "Pegel Erlenbach, Mühlenbrücke"
    assert _text(first, "cap:info/cap:area/cap:circle") == "48.780000,9.180000 1.0"
    assert _text(first, "cap:info/cap:urgency") == "Immediate"
    last = documents[-1]
    assert _text(last, "cap:info/cap:responseType") == "AllClear"
    assert _text(last, "cap:info/cap:urgency") == "Past"
    assert _text(last, "cap:info/cap:headline") == "Entwarnung: Hochwasser"

    # The JSON form is the same message.
    as_json = platform.client.get(f"/api/cap/{published[0]['id']}.json").json()
    assert as_json == platform.client.get(f"/api/cap/{published[0]['id']}",
                                          params={"format": "json"}).json()
    assert as_json["msgType"] == "Alert" and as_json["info"][0]["severity"] == "Minor"
    assert as_json["identifier"] == _text(first, "cap:identifier")

    # The feed shows the alert's latest message: its all-clear.
    feed = platform.client.get("/api/cap")
    assert feed.headers["content-type"].startswith("application/atom+xml")
    atom = etree.fromstring(feed.content)
    entries = atom.findall(f"{ATOM}entry")
    assert len(entries) == 1
    link = entries[0].find(f"{ATOM}link").get("href")
    assert link.endswith(f"/api/cap/{published[-1]['id']}.xml")
    assert entries[0].findtext(f"{ATOM}id") == _text(last, "cap:identifier")
    listed = platform.client.get("/api/cap.json").json()["value"]
    assert [m["alert"]["msgType"] for m in listed] == ["Cancel"]
    assert platform.client.get("/api/cap", params={"format": "json"}).json()["value"] == listed


def test_what_the_feed_publishes(platform: Platform) -> None:
    platform.channel({"name": "oeffentlich", "type": "cap", "minSeverity": "moderate"})
    quiet = platform.open_alert(level=1, area=DISTRICT)  # too minor: never published
    platform.change(quiet, "resolved")
    rising = platform.open_alert(level=1, area=DISTRICT)
    platform.change(rising, "escalated", level=2)  # the feed's first word on it: Alert
    other = platform.open_alert(level=4, area=None)
    published = _published(platform, "oeffentlich", 2)
    documents = [_xml(platform, d["id"]) for d in published]
    assert [_text(d, "cap:msgType") for d in documents] == ["Alert", "Alert"]
    polygon = _text(documents[0], "cap:info/cap:area/cap:polygon")
    pairs = polygon.split()
    assert pairs[0] == pairs[-1] == "48.700000,9.100000" and len(pairs) == 4
    assert all(re.fullmatch(r"-?\d+\.\d+,-?\d+\.\d+", p) for p in pairs)
    assert _text(documents[0], "cap:info/cap:category") == "Other"
    assert documents[1].find(f"{CAP}info/{CAP}area/{CAP}polygon") is None
    feed = platform.client.get("/api/cap.json").json()["value"]
    assert sorted(m["alert"]["info"][0]["severity"] for m in feed) == ["Extreme", "Moderate"]
    platform.change(other, "resolved")
    published = _published(platform, "oeffentlich", 3)
    assert _text(_xml(platform, published[-1]["id"]), "cap:msgType") == "Cancel"


@pytest.mark.parametrize("path", ["/api/cap/12345.xml", "/api/cap/abc.xml", "/api/cap/1.pdf",
                                  "/api/cap?channel=nowhere"])
def test_unknown_messages_are_404(platform: Platform, path: str) -> None:
    response = platform.client.get(path)
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_an_empty_feed_is_valid_atom(platform: Platform) -> None:
    atom = etree.fromstring(platform.client.get("/api/cap").content)
    assert atom.tag == f"{ATOM}feed" and atom.findall(f"{ATOM}entry") == []
    assert platform.client.get("/api/cap", params={"format": "rss"}).status_code == 400
