"""MQTT topic names: what a change is announced on, which topics create Observations."""

from __future__ import annotations

import pytest

from quartier.model.entities import ENTITY_TYPES
from quartier.mqtt.topics import (
    Notice,
    create_subscriptions,
    notices,
    parse_create_topic,
    tenant_root,
)


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
        "city/t/+/v1.1/Observations", "city/t/+/v1.1/+/Observations",
    ]
