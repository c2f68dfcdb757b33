"""Conformance class: resource path (OGC 18-088 A.2): sets, entities, navigation, properties."""

from __future__ import annotations

import pytest

from conftest import Api, full_thing_body, location_body
from quartier.model.entities import ENTITY_SETS


@pytest.fixture
def town(api: Api) -> dict[str, int]:
    """Two Things, each with a Location, a Datastream and two Observations."""
    ids: dict[str, int] = {}
    for n in (1, 2):
        thing = api.create("Things", full_thing_body(f"Gauge {n}"))
        ds = api.ok(f"Things({thing})/Datastreams")["value"][0]["@iot.id"]
        ids[f"thing{n}"], ids[f"ds{n}"] = thing, ds
        for value in (n * 10, n * 10 + 1):
            ids[f"obs{n}_{value}"] = api.create(f"Datastreams({ds})/Observations", {"result": value})
        ids[f"sensor{n}"] = api.ok(f"Datastreams({ds})/Sensor")["@iot.id"]
    return ids


def test_root_document(api: Api) -> None:
    root = api.client.get("/v1.1").json()
    assert {e["name"] for e in root["value"]} == set(ENTITY_SETS)
    for entry in root["value"]:
        assert entry["url"] == f"http://testserver/v1.1/{entry['name']}"
        assert api.client.get(entry["url"]).status_code == 200
    conformance = root["serverSettings"]["conformance"]
    assert "http://www.opengis.net/spec/iot_sensing/1.1/req/create-update-delete" in conformance
    for part in ("request-data", "batch-request/batch-request", "data-array/data-array"):
        assert f"http://www.opengis.net/spec/iot_sensing/1.1/req/{part}" in conformance
    # Not implemented yet, so not claimed.
    assert not any("mqtt" in c for c in conformance)


def test_version_1_0_root_and_links(api: Api, town: dict[str, int]) -> None:
    root = api.client.get("/v1.0").json()
    assert root["value"][0]["url"] == "http://testserver/v1.0/Things"
    thing = api.client.get(f"/v1.0/Things({town['thing1']})").json()
    assert thing["@iot.selfLink"] == f"http://testserver/v1.0/Things({town['thing1']})"


def test_collection_and_entity(api: Api, town: dict[str, int]) -> None:
    things = api.ok("Things")["value"]
    assert [t["name"] for t in things] == ["Gauge 1", "Gauge 2"]
    assert api.ok(f"Things({town['thing2']})")["name"] == "Gauge 2"


def test_navigation_to_collection_is_scoped_to_parent(api: Api, town: dict[str, int]) -> None:
    results = [o["result"] for o in api.ok(f"Datastreams({town['ds2']})/Observations")["value"]]
    assert results == [20, 21]


def test_deep_navigation(api: Api, town: dict[str, int]) -> None:
    path = f"Things({town['thing1']})/Datastreams({town['ds1']})/Sensor/Datastreams"
    assert [d["@iot.id"] for d in api.ok(path)["value"]] == [town["ds1"]]
    locations = api.ok(f"Observations({town['obs2_20']})/Datastream/Thing/Locations")["value"]
    assert [loc["name"] for loc in locations] == [location_body()["name"]]
    assert api.ok(f"Observations({town['obs1_10']})/Datastream/Thing")["name"] == "Gauge 1"


def test_entity_under_wrong_parent_is_not_found(api: Api, town: dict[str, int]) -> None:
    response = api.get(f"Things({town['thing1']})/Datastreams({town['ds2']})")
    assert response.status_code == 404
    response = api.get(f"Things({town['thing1']})/Datastreams({town['ds2']})/Observations")
    assert response.status_code == 404


def test_property_and_raw_value(api: Api, town: dict[str, int]) -> None:
    assert api.ok(f"Things({town['thing1']})/name") == {"name": "Gauge 1"}
    raw = api.get(f"Things({town['thing1']})/name/$value")
    assert raw.status_code == 200
    assert raw.text == "Gauge 1"
    assert raw.headers["content-type"].startswith("text/plain")
    assert api.get(f"Observations({town['obs1_11']})/result/$value").text == "11"
    assert api.ok(f"Things({town['thing1']})/properties") == {"properties": {"district": "Nord"}}


def test_null_property_is_no_content(api: Api, town: dict[str, int]) -> None:
    assert api.get(f"Observations({town['obs1_10']})/resultTime").status_code == 204


def test_ref_links(api: Api, town: dict[str, int]) -> None:
    refs = api.ok(f"Datastreams({town['ds1']})/Observations/$ref")
    assert refs["value"] == [
        {"@iot.selfLink": f"http://testserver/v1.1/Observations({town[k]})"}
        for k in ("obs1_10", "obs1_11")
    ]
    single = api.ok(f"Datastreams({town['ds1']})/Sensor/$ref")
    assert single == {"@iot.selfLink": f"http://testserver/v1.1/Sensors({town['sensor1']})"}


@pytest.mark.parametrize(
    "path",
    [
        "Things(9223372036854775807)",
        "Things(9223372036854775808)",
        "Things(0)",
        "Nothing",
        "Things(1)/Nothing",
        "Things(1)/name/extra",
        "Things/Datastreams",
        "Things(1)/$value",
    ],
)
def test_unknown_paths_are_404(api: Api, town: dict[str, int], path: str) -> None:
    response = api.get(path)
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert response.json()["message"]


def test_tenant_root_is_separate(api: Api, town: dict[str, int]) -> None:
    response = api.client.get("/t/unknown-town/v1.1/Things")
    assert response.status_code == 404
    assert "tenant" in response.json()["message"]
    default = api.client.get("/t/default/v1.1/Things").json()
    assert len(default["value"]) == 2
    assert default["value"][0]["@iot.selfLink"].startswith("http://testserver/t/default/v1.1/")
