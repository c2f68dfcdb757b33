"""Conformance class: data model (OGC 18-088 A.1). Every entity, property and relation."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import (
    Api,
    datastream_body,
    full_thing_body,
    location_body,
    observed_property_body,
    sensor_body,
    thing_body,
)
from quartier.model.entities import ENTITY_TYPES


def _links_are_complete(entity: dict[str, Any], type_name: str) -> None:
    etype = ENTITY_TYPES[type_name]
    assert isinstance(entity["@iot.id"], int)
    assert entity["@iot.selfLink"].endswith(f"/v1.1/{etype.plural}({entity['@iot.id']})")
    for rel in etype.relations:
        assert entity[f"{rel.name}@iot.navigationLink"] == f"{entity['@iot.selfLink']}/{rel.name}"


@pytest.fixture
def stream(api: Api) -> dict[str, int]:
    """A Thing with a Location and a Datastream; the ids of each."""
    thing = api.create("Things", full_thing_body())
    datastream = api.ok(f"Things({thing})/Datastreams")["value"][0]["@iot.id"]
    location = api.ok(f"Things({thing})/Locations")["value"][0]["@iot.id"]
    return {"thing": thing, "datastream": datastream, "location": location}


def test_every_entity_type_has_id_self_link_and_navigation_links(
    api: Api, stream: dict[str, int]
) -> None:
    api.create(f"Datastreams({stream['datastream']})/Observations", {"result": 1})
    api.create(f"Things({stream['thing']})/TaskingCapabilities", {  # Part 2's three types
        "name": "Switch", "description": "on or off",
        "taskingParameters": {"type": "DataRecord", "field": [{"name": "on", "type": "Boolean"}]},
        "Actuator": {"name": "Relay", "description": "a relay", "encodingType": "text/plain",
                     "metadata": "relay"},
        "Tasks": [{"taskingParameters": {"on": True}}]})
    for etype in ENTITY_TYPES.values():
        value = api.ok(etype.plural)["value"]
        assert value, f"no {etype.plural} were created"
        for entity in value:
            _links_are_complete(entity, etype.name)


def test_thing_properties_round_trip(api: Api) -> None:
    body = thing_body(with_location=False)
    body["properties"] = {"district": "Nord", "owner": {"name": "Bauhof"}, "floors": [1, 2]}
    thing = api.ok(f"Things({api.create('Things', body)})")
    assert thing["name"] == body["name"]
    assert thing["description"] == body["description"]
    assert thing["properties"] == body["properties"]


def test_location_keeps_its_geojson(api: Api) -> None:
    polygon = {
        "type": "Polygon",
        "coordinates": [[[9.1, 48.7], [9.2, 48.7], [9.2, 48.8], [9.1, 48.7]]],
    }
    loc = api.create("Locations", location_body("Park", polygon) | {"properties": {"a": 1}})
    stored = api.ok(f"Locations({loc})")
    assert stored["location"] == polygon
    assert stored["encodingType"] == "application/geo+json"
    assert stored["properties"] == {"a": 1}


def test_sensor_metadata_may_be_any_json(api: Api) -> None:
    body = sensor_body() | {"encodingType": "application/json", "metadata": {"model": "VEGAPULS"}}
    assert api.ok(f"Sensors({api.create('Sensors', body)})")["metadata"] == {"model": "VEGAPULS"}


def test_observed_property_fields(api: Api) -> None:
    body = observed_property_body() | {"properties": {"unit": "cm"}}
    stored = api.ok(f"ObservedProperties({api.create('ObservedProperties', body)})")
    for key, value in body.items():
        assert stored[key] == value


@pytest.mark.parametrize(
    "result",
    [3.25, 42, 0, -7, True, False, "flooded", {"level": 3, "unit": "cm"}, [1, 2, 3], None,
     2**60],
)
def test_observation_result_keeps_its_json_type(
    api: Api, stream: dict[str, int], result: Any
) -> None:
    obs = api.create(f"Datastreams({stream['datastream']})/Observations", {"result": result})
    stored = api.ok(f"Observations({obs})")
    assert stored["result"] == result
    assert type(stored["result"]) is type(result)


def test_observation_optional_properties(api: Api, stream: dict[str, int]) -> None:
    body = {
        "result": 12.5,
        "phenomenonTime": "2026-11-01T10:00:00Z/2026-11-01T10:15:00Z",
        "resultTime": "2026-11-01T10:15:03.250Z",
        "validTime": "2026-11-01T10:00:00+01:00/2026-11-02T10:00:00+01:00",
        "resultQuality": {"flag": "checked"},
        "parameters": {"battery": 3.6},
    }
    ds = stream["datastream"]
    stored = api.ok(f"Observations({api.create(f'Datastreams({ds})/Observations', body)})")
    assert stored["phenomenonTime"] == body["phenomenonTime"]
    assert stored["resultTime"] == "2026-11-01T10:15:03.250Z"
    assert stored["validTime"] == "2026-11-01T09:00:00Z/2026-11-02T09:00:00Z"
    assert stored["resultQuality"] == {"flag": "checked"}
    assert stored["parameters"] == {"battery": 3.6}


def test_unset_result_time_is_null_and_phenomenon_time_defaults_to_now(
    api: Api, stream: dict[str, int]
) -> None:
    obs = api.create(f"Datastreams({stream['datastream']})/Observations", {"result": 1})
    stored = api.ok(f"Observations({obs})")
    assert "resultTime" in stored and stored["resultTime"] is None
    assert stored["phenomenonTime"].startswith("20")
    assert "validTime" not in stored  # optional and unset


def test_datastream_unit_and_type(api: Api, stream: dict[str, int]) -> None:
    stored = api.ok(f"Datastreams({stream['datastream']})")
    expected = datastream_body()
    assert stored["unitOfMeasurement"] == expected["unitOfMeasurement"]
    assert stored["observationType"] == expected["observationType"]
    assert "phenomenonTime" not in stored  # no observations yet


def test_datastream_times_and_area_follow_observations(api: Api, stream: dict[str, int]) -> None:
    ds = stream["datastream"]
    api.create(f"Datastreams({ds})/Observations", {
        "result": 1, "phenomenonTime": "2026-11-02T10:00:00Z",
        "resultTime": "2026-11-02T10:00:05Z",
    })
    api.create(f"Datastreams({ds})/Observations", {
        "result": 2, "phenomenonTime": "2026-11-01T08:00:00Z/2026-11-01T09:00:00Z",
        "resultTime": "2026-11-01T09:00:05Z",
    })
    feature = api.create("FeaturesOfInterest", {
        "name": "Weir", "description": "downstream", "encodingType": "application/geo+json",
        "feature": {"type": "Point", "coordinates": [9.30, 48.90]},
    })
    obs = api.create(f"Datastreams({ds})/Observations", {
        "result": 3, "phenomenonTime": "2026-11-03T00:00:00Z",
        "FeatureOfInterest": {"@iot.id": feature},
    })
    stored = api.ok(f"Datastreams({ds})")
    assert stored["phenomenonTime"] == "2026-11-01T08:00:00Z/2026-11-03T00:00:00Z"
    assert stored["resultTime"] == "2026-11-01T09:00:05Z/2026-11-02T10:00:05Z"
    assert stored["observedArea"]["type"] == "LineString"
    assert sorted(map(tuple, stored["observedArea"]["coordinates"])) == [
        (9.18, 48.78), (9.30, 48.90)
    ]
    # Deleting an Observation shrinks the ranges again.
    assert api.client.delete(api.url(f"Observations({obs})")).status_code == 200
    stored = api.ok(f"Datastreams({ds})")
    assert stored["phenomenonTime"] == "2026-11-01T08:00:00Z/2026-11-02T10:00:00Z"
    assert stored["observedArea"] == {"type": "Point", "coordinates": [9.18, 48.78]}


def test_feature_of_interest_made_from_location_and_reused(
    api: Api, stream: dict[str, int]
) -> None:
    ds = stream["datastream"]
    first = api.create(f"Datastreams({ds})/Observations", {"result": 1})
    second = api.create(f"Datastreams({ds})/Observations", {"result": 2})
    features = api.ok("FeaturesOfInterest")["value"]
    assert len(features) == 1
    feature = features[0]
    location = api.ok(f"Locations({stream['location']})")
    assert feature["feature"] == location["location"]
    assert feature["name"] == location["name"]
    for obs in (first, second):
        assert api.ok(f"Observations({obs})/FeatureOfInterest")["@iot.id"] == feature["@iot.id"]


def test_moved_location_makes_a_new_feature(api: Api, stream: dict[str, int]) -> None:
    ds = stream["datastream"]
    api.create(f"Datastreams({ds})/Observations", {"result": 1})
    moved = {"type": "Point", "coordinates": [9.5, 48.5]}
    response = api.client.patch(
        api.url(f"Locations({stream['location']})"), json={"location": moved}
    )
    assert response.status_code == 200
    obs = api.create(f"Datastreams({ds})/Observations", {"result": 2})
    assert api.ok(f"Observations({obs})/FeatureOfInterest")["feature"] == moved
    assert api.ok("FeaturesOfInterest", **{"$count": "true"})["@iot.count"] == 2


def test_creating_thing_with_location_makes_historical_location(api: Api) -> None:
    thing = api.create("Things", thing_body())
    history = api.ok(f"Things({thing})/HistoricalLocations")["value"]
    assert len(history) == 1
    located = api.ok(f"HistoricalLocations({history[0]['@iot.id']})/Locations")["value"]
    assert [loc["name"] for loc in located] == [thing_body()["Locations"][0]["name"]]
    assert api.ok(f"HistoricalLocations({history[0]['@iot.id']})/Thing")["@iot.id"] == thing


def test_thing_without_location_has_no_history(api: Api) -> None:
    thing = api.create("Things", thing_body(with_location=False))
    assert api.ok(f"Things({thing})/HistoricalLocations")["value"] == []


def test_historical_location_created_directly(api: Api) -> None:
    thing = api.create("Things", thing_body(with_location=False))
    loc = api.create("Locations", location_body())
    hl = api.create("HistoricalLocations", {
        "time": "2026-10-01T12:00:00+02:00",
        "Thing": {"@iot.id": thing}, "Locations": [{"@iot.id": loc}],
    })
    stored = api.ok(f"HistoricalLocations({hl})")
    assert stored["time"] == "2026-10-01T10:00:00Z"
    assert api.ok(f"Locations({loc})/HistoricalLocations")["value"][0]["@iot.id"] == hl
