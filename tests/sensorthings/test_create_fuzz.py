"""Random and damaged JSON bodies for creating entities, on SQLite and PostgreSQL.

Each POST is answered 201 or a 4xx in the error shape, never 5xx; a 4xx writes nothing (every
entity set counts the same rows before and after), and a 201 writes something.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import (
    Api,
    TestClient,
    actuator_body,
    backend_settings,
    capability_body,
    datastream_body,
    full_thing_body,
    location_body,
    make_app,
    observed_property_body,
    sensor_body,
)
from quartier.model.entities import ENTITY_SETS

# shapely warns while it reads a coordinate too large for a float; the 400 follows.
pytestmark = pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")

SCALARS = (st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False)
           | st.text(max_size=12) | st.sampled_from(["2026-01-01T00:00:00Z", "Point", "\x00", "@iot.id"]))
ANY_JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3)
                        | st.dictionaries(st.text(max_size=10), inner, max_size=3), max_leaves=10)


def mutated(value: Any) -> st.SearchStrategy[Any]:
    """``value``, or a copy with some members replaced by any JSON, dropped or added."""
    if isinstance(value, dict):
        members = {k: st.one_of(mutated(v), ANY_JSON) for k, v in value.items()}
        return st.fixed_dictionaries({}, optional=members).flatmap(
            lambda kept: st.dictionaries(st.text(max_size=8), ANY_JSON, max_size=1).map(
                lambda extra: {**kept, **extra}))
    if isinstance(value, list):
        return st.lists(st.one_of(*(mutated(v) for v in value), ANY_JSON), max_size=len(value) + 1)
    return st.one_of(st.just(value), ANY_JSON)


def valid_bodies(ids: dict[str, int]) -> dict[str, Any]:
    datastream = datastream_body(Thing={"@iot.id": ids["Thing"]}, Sensor={"@iot.id": ids["Sensor"]},
                                 ObservedProperty={"@iot.id": ids["ObservedProperty"]})
    return {
        "Things": full_thing_body(),
        "Locations": location_body(),
        "Sensors": sensor_body(),
        "ObservedProperties": observed_property_body(),
        "Datastreams": datastream,
        "Observations": {"result": 1.5, "phenomenonTime": "2026-01-01T00:00:00Z",
                         "Datastream": {"@iot.id": ids["Datastream"]}},
        "FeaturesOfInterest": {"name": "f", "description": "f", "encodingType": "application/geo+json",
                               "feature": {"type": "Point", "coordinates": [1, 2]}},
        "HistoricalLocations": {"time": "2026-01-01T00:00:00Z", "Thing": {"@iot.id": ids["Thing"]},
                                "Locations": [{"@iot.id": ids["Location"]}]},
        "Actuators": actuator_body(),
        "TaskingCapabilities": capability_body(ids["Thing"]),
        "Tasks": {"taskingParameters": {"switch": "on", "dim": 40},
                  "TaskingCapability": {"@iot.id": ids["TaskingCapability"]}},
    }


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def seeded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[tuple[Api, dict[str, Any]]]:
    settings = backend_settings(request, request.param, tmp_path_factory.mktemp("create"))
    with TestClient(make_app(settings), raise_server_exceptions=False) as client:
        api = Api(client)
        api.create("Things", {**full_thing_body(), "TaskingCapabilities": [capability_body()]})
        ids = {etype.name: api.ok(plural, **{"$top": 1})["value"][0]["@iot.id"]
               for plural, etype in ENTITY_SETS.items()
               if etype.name not in ("Observation", "FeatureOfInterest", "Task")}
        ids["Datastream"] = api.ok("Datastreams", **{"$top": 1})["value"][0]["@iot.id"]
        yield api, valid_bodies(ids)


def row_counts(api: Api) -> dict[str, int]:
    return {plural: api.ok(plural, **{"$count": "true", "$top": 0})["@iot.count"] for plural in ENTITY_SETS}


@settings(max_examples=120, deadline=None, database=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(data=st.data(), plural=st.sampled_from(sorted(ENTITY_SETS)))
def test_a_create_is_201_or_a_4xx_that_writes_nothing(
    seeded: tuple[Api, dict[str, Any]], data: st.DataObject, plural: str, tmp_path: Path,
) -> None:
    api, bodies = seeded
    body = data.draw(st.one_of(mutated(bodies[plural]), ANY_JSON), label="body")
    before = row_counts(api)
    response = api.post(plural, body)
    after = row_counts(api)
    assert response.status_code == 201 or 400 <= response.status_code < 500, response.text
    if response.status_code == 201:
        assert after[plural] > before[plural]
    else:
        answer = response.json()
        assert isinstance(answer["code"], str) and isinstance(answer["message"], str), answer
        assert after == before, (response.status_code, answer)
