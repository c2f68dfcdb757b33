"""MQTT topic names: what a change is announced on, which topics create Observations."""

from __future__ import annotations

import logging

import pytest

from quartier.errors import QuartierError, SettingsError
from quartier.model.entities import ENTITY_TYPES
from quartier.mqtt import select
from quartier.mqtt.select import SUBSCRIBE_LOG, UNSUBSCRIBE_LOG, SelectTopics, parse_select_topic
from quartier.mqtt.topics import (
    Notice,
    create_subscriptions,
    notices,
    parse_create_topic,
    tenant_root,
)
from quartier.settings import Settings


def test_tenant_roots() -> None:
    assert tenant_root("", "default") == "v1.1/"
    assert tenant_root("", "nord") == "t/nord/v1.1/"
    assert tenant_root("city/", "nord") == "city/t/nord/v1.1/"


def test_new_observation_goes_to_its_set_and_both_parents() -> None:
    found = notices("v1.1/", ENTITY_TYPES["Observation"], 5, "create", (),
                    {"Datastream": 7, "FeatureOfInterest": 9})
    assert found == [
        Notice("v1.1/Observations", "Observations(5)"),
        Notice("v1.1/Datastreams(7)/Observations", "Observations(5)"),
        Notice("v1.1/FeaturesOfInterest(9)/Observations", "Observations(5)"),
    ]


def test_new_datastream_goes_to_its_thing_sensor_and_property() -> None:
    topics = [n.topic for n in notices(
        "v1.1/", ENTITY_TYPES["Datastream"], 3, "create", (),
        {"Thing": 1, "Sensor": 2, "ObservedProperty": 4})]
    assert topics == ["v1.1/Datastreams", "v1.1/Things(1)/Datastreams",
                      "v1.1/Sensors(2)/Datastreams", "v1.1/ObservedProperties(4)/Datastreams"]


def test_update_goes_to_the_entity_and_each_changed_property() -> None:
    found = notices("t/nord/v1.1/", ENTITY_TYPES["Thing"], 1, "update",
                    ("name", "properties", "Locations"), {})
    assert found == [
        Notice("t/nord/v1.1/Things(1)", "Things(1)"),
        Notice("t/nord/v1.1/Things(1)/name", "Things(1)/name"),
        Notice("t/nord/v1.1/Things(1)/properties", "Things(1)/properties"),
    ]


def test_new_entity_goes_to_navigation_paths_through_link_tables() -> None:
    found = notices("v1.1/", ENTITY_TYPES["HistoricalLocation"], 4, "create", (),
                    {"Thing": 1}, {"Locations": [2, 3]})
    assert [n.topic for n in found] == [
        "v1.1/HistoricalLocations", "v1.1/Things(1)/HistoricalLocations",
        "v1.1/Locations(2)/HistoricalLocations", "v1.1/Locations(3)/HistoricalLocations",
    ]
    assert {n.path for n in found} == {"HistoricalLocations(4)"}


def test_deletions_are_not_announced() -> None:
    assert notices("v1.1/", ENTITY_TYPES["Thing"], 1, "delete", (), {}) == []


@pytest.mark.parametrize("topic,expected", [
    ("v1.1/Observations", ("default", "Observations")),
    ("v1.1/Datastreams(12)/Observations", ("default", "Datastreams(12)/Observations")),
    ("v1.1/FeaturesOfInterest(3)/Observations", ("default", "FeaturesOfInterest(3)/Observations")),
    ("t/nord/v1.1/Observations", ("nord", "Observations")),
    ("v1.1/Things(1)/Observations", None),
    ("v1.1/Things", None),
    ("v1.1/Observations(3)", None),
    ("v1.0/Observations", None),
    ("v1.1/Datastreams(x)/Observations", None),
    ("t/Nord/v1.1/Observations", None),
    ("v1.1/Datastreams(12)/Observations/extra", None),
])
def test_topics_that_create(topic: str, expected: tuple[str, str] | None) -> None:
    assert parse_create_topic("", topic) == expected


def test_prefix_is_required_and_stripped() -> None:
    assert parse_create_topic("city/", "city/v1.1/Observations") == ("default", "Observations")
    assert parse_create_topic("city/", "v1.1/Observations") is None
    assert create_subscriptions("city/") == [
        "city/v1.1/Observations", "city/v1.1/+/Observations",
        "city/v1.1/Tasks", "city/v1.1/+/Tasks",
        "city/t/+/v1.1/Observations", "city/t/+/v1.1/+/Observations",
        "city/t/+/v1.1/Tasks", "city/t/+/v1.1/+/Tasks",
    ]


# -- $select topics -----------------------------------------------------------------------


@pytest.mark.parametrize("topic,base,value", [
    ("city/v1.1/Things?$select=name,description", "city/v1.1/Things", "name,description"),
    ("city/v1.1/Things(1)?$select=@iot.id,name", "city/v1.1/Things(1)", "@iot.id,name"),
    ("city/t/nord/v1.1/Datastreams(7)/Observations?$select=result,phenomenonTime",
     "city/t/nord/v1.1/Datastreams(7)/Observations", "result,phenomenonTime"),
    ("city/v1.1/Things?$select=name%2Cdescription", "city/v1.1/Things", "name,description"),
])
def test_select_topics(topic: str, base: str, value: str) -> None:
    found = parse_select_topic("city/", topic)
    assert (found.topic, found.base, found.select) == (topic, base, value)
    assert found.names == tuple(value.split(","))
    assert parse_select_topic("city/", f"$share/group/{topic}") == found


@pytest.mark.parametrize("topic", [
    "v1.1/Things?$select=name",  # without the prefix
    "city/v1.1/Things",  # no $select
    "city/v1.1/Things?$select=", "city/v1.1/Things?$select=nosuch",
    "city/v1.1/Things?$select=name&$top=1", "city/v1.1/Things?$filter=name eq 'x'",
    "city/v1.1/Things(1)/name?$select=name",  # a property
    "city/v1.1/Datastreams(1)/Thing?$select=name",  # to one entity: never announced there
    "city/v1.1/Things(1)/Datastreams(2)?$select=name", "city/v1.1/Things(01)?$select=name",
    "city/v1.1/Things('1')?$select=name", "city/v1.1/Things(x)?$select=name",
    "city/v1.1/Nothing?$select=name", "city/v1.0/Things?$select=name", "city/+/Things?$select=name",
    "city/t/Nord/v1.1/Things?$select=name",
])
def test_not_select_topics(topic: str) -> None:
    with pytest.raises(QuartierError):
        parse_select_topic("city/", topic)


def test_subscriptions_are_followed_from_the_broker_log(caplog: pytest.LogCaptureFixture) -> None:
    topics = SelectTopics("", ["v1.1/Observations?$select=result"])
    names, things = "v1.1/Things?$select=name", "v1.1/Things?$select=@iot.id"

    def line(log_topic: str, text: str) -> None:
        topics.take_log(log_topic, f"1796420379: {text}".encode())

    line(SUBSCRIBE_LOG, f"dashboard 1 {names}")
    line(SUBSCRIBE_LOG, f"my phone 0 $share/g/{things}")  # a client id with a space
    line(SUBSCRIBE_LOG, f"map 2 {names}")
    line(SUBSCRIBE_LOG, f"odd 1 1 {names}")  # the client "odd 1"
    with caplog.at_level(logging.DEBUG, "quartier.mqtt.select"):
        line(SUBSCRIBE_LOG, "bad 1 v1.1/Things?$select=nosuch")
    assert "cannot $select 'nosuch'" in caplog.text
    line(SUBSCRIBE_LOG, "other 1 v1.1/Things")
    line(SUBSCRIBE_LOG, "garbage")
    assert set(topics.get("v1.1/Things") or {}) == {names, things}
    assert len(topics) == 3
    line(UNSUBSCRIBE_LOG, f"dashboard {names}")  # map still reads it
    assert names in (topics.get("v1.1/Things") or {})
    line(UNSUBSCRIBE_LOG, f"map {names}")
    assert names in (topics.get("v1.1/Things") or {})
    line(UNSUBSCRIBE_LOG, f"odd 1 {names}")
    line(UNSUBSCRIBE_LOG, f"my phone $share/g/{things}")
    line(UNSUBSCRIBE_LOG, "someone v1.1/Observations?$select=result")  # from the setting: kept
    assert topics.get("v1.1/Things") is None
    assert set(topics.get("v1.1/Observations") or {}) == {"v1.1/Observations?$select=result"}


def test_select_topics_are_capped(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(select, "MAX_TOPICS", 2)
    monkeypatch.setattr(select, "MAX_HOLDERS", 2)
    topics = SelectTopics("")
    for n, value in enumerate(("id", "name", "description")):
        topics.take_log(SUBSCRIBE_LOG, f"1: c{n} 1 v1.1/Things?$select={value}".encode())
    assert len(topics) == 2
    assert "further ones are ignored" in caplog.text
    for client in ("a", "b", "c"):  # past MAX_HOLDERS clients, kept for good
        topics.take_log(SUBSCRIBE_LOG, f"1: {client} 1 v1.1/Things?$select=id".encode())
    for client in ("c0", "a", "b", "c"):
        topics.take_log(UNSUBSCRIBE_LOG, f"1: {client} v1.1/Things?$select=id".encode())
    assert set(topics.get("v1.1/Things") or {}) == {"v1.1/Things?$select=id", "v1.1/Things?$select=name"}


def test_select_topics_setting_is_checked() -> None:
    good = "city/v1.1/Things?$select=name city/v1.1/Datastreams(1)/Observations?$select=result"
    assert Settings.validated({"mqtt_prefix": "city/", "mqtt_select_topics": good})
    with pytest.raises(SettingsError, match="nosuch"):
        Settings.validated({"mqtt_select_topics": "v1.1/Things?$select=nosuch"})
