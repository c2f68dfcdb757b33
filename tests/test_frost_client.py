"""Quartier as seen by frost-sta-client, the Python client written for FROST-Server.

The client speaks plain HTTP through ``requests``, so these tests run the real app under
uvicorn on a free port of 127.0.0.1 (in a background thread) and drive it the way a
user of the client would: deep insert, find, update and patch, Observations that point
at their Datastream, and listing them back.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import frost_sta_client as fsc
import pytest
import requests
from frost_sta_client.service.auth_handler import AuthHandler

from conftest import admin_key, serving
from quartier.app import build_app
from quartier.settings import Settings

# The client reads furl's ``pathstr`` when it builds collection URLs; furl marks that as
# deprecated. It is the client's warning, not ours, so only that one is let through.
pytestmark = pytest.mark.filterwarnings(
    "ignore:furl.pathstr is deprecated:DeprecationWarning"
)

UNIT = {
    "name": "centimetre",
    "symbol": "cm",
    "definition": "http://unitsofmeasure.org/ucum.html#para-30",
}
MEASUREMENT = "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement"
START = datetime(2024, 5, 1, 6, 0, tzinfo=UTC)


# -- a real server on a TCP port -------------------------------------------------------


@pytest.fixture
def server_url(settings: Settings) -> Iterator[tuple[str, str]]:
    """The app served by uvicorn on 127.0.0.1 (port chosen by the OS); its root URL and
    an editor's key."""
    app = build_app(settings)
    with serving(app) as base:
        answer = requests.get(f"{base}/v1.1", timeout=5)
        assert answer.status_code == 200, answer.text
        yield f"{base}/v1.1", admin_key(app, role="editor")


@pytest.fixture
def service(server_url: tuple[str, str]) -> fsc.SensorThingsService:
    # The client knows Basic auth only: the key goes as the password.
    url, key = server_url
    return fsc.SensorThingsService(url, auth_handler=AuthHandler("quartier", key))


@contextmanager
def explained() -> Iterator[None]:
    """Turn the client's bare HTTPError into a failure that shows the whole exchange."""
    refused = None
    try:
        yield
    except requests.HTTPError as exc:
        req, resp = exc.request, exc.response
        body = req.body.decode() if isinstance(req.body, bytes) else req.body
        refused = (
            f"the server refused a frost-sta-client request\n"
            f"  {req.method} {req.url}\n"
            f"  Content-Type: {req.headers.get('Content-Type')}\n"
            f"  body: {body}\n"
            f"  -> {resp.status_code} {resp.headers.get('Content-Type')} {resp.text}"
        )
    if refused is not None:
        pytest.fail(refused)


# -- the scenario ----------------------------------------------------------------------


def new_gauge() -> fsc.Thing:
    """A Thing with a Location and two Datastreams, each with a new Sensor and property."""
    location = fsc.Location(
        name="Brücke Mühlbach",
        description="gauge at the bridge",
        encoding_type="application/geo+json",
        location={"type": "Point", "coordinates": [9.18, 48.78]},
    )
    streams = [
        fsc.Datastream(
            name=f"{what} Mühlbach",
            description=f"{what} every 15 minutes",
            observation_type=MEASUREMENT,
            unit_of_measurement=fsc.UnitOfMeasurement(**unit),
            sensor=fsc.Sensor(
                name=f"{what} sensor",
                description=f"sensor for {what.lower()}",
                encoding_type="application/pdf",
                metadata=f"https://example.org/{what.lower()}.pdf",
            ),
            observed_property=fsc.ObservedProperty(
                name=what,
                definition=f"https://example.org/{what.lower()}",
                description=f"the {what.lower()} at the gauge",
            ),
        )
        for what, unit in (
            ("Level", UNIT),
            ("Temperature", {"name": "degree Celsius", "symbol": "°C", "definition": "ucum:Cel"}),
        )
    ]
    return fsc.Thing(
        name="Pegel Mühlbach",
        description="water level gauge",
        properties={"district": "Nord", "operator": "Tiefbauamt"},
        locations=[location],
        datastreams=streams,
    )


def create_gauge(service: fsc.SensorThingsService) -> fsc.Thing:
    thing = new_gauge()
    with explained():
        service.create(thing)
    return thing


def level_stream(service: fsc.SensorThingsService, thing_id: int) -> fsc.Datastream:
    """The Thing's water level Datastream, as the client lists it."""
    with explained():
        thing = service.things().find(thing_id)
        streams = thing.get_datastreams().query().list().entities
    by_name = {ds.name: ds for ds in streams}
    assert set(by_name) == {"Level Mühlbach", "Temperature Mühlbach"}
    return by_name["Level Mühlbach"]


def when(value: str | None) -> datetime:
    assert value is not None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_deep_insert_then_find(server_url: tuple[str, str], service: fsc.SensorThingsService) -> None:
    thing = create_gauge(service)
    # The client reads the new id from the Location header, between '(' and ')'.
    assert isinstance(thing.id, int)

    with explained():
        found = service.things().find(thing.id)
    assert found.id == thing.id
    assert found.self_link == f"{server_url[0]}/Things({thing.id})"
    assert found.name == "Pegel Mühlbach"
    assert found.description == "water level gauge"
    assert found.properties == {"district": "Nord", "operator": "Tiefbauamt"}

    with explained():
        locations = found.get_locations().query().list().entities
        streams = found.get_datastreams().query().list().entities
        sensors = service.sensors().query().list().entities
        observed = service.observed_properties().query().list().entities
    assert [(loc.name, loc.encoding_type) for loc in locations] == [
        ("Brücke Mühlbach", "application/geo+json")
    ]
    assert locations[0].location["type"] == "Point"
    assert locations[0].location["coordinates"] == pytest.approx([9.18, 48.78])

    by_name = {ds.name: ds for ds in streams}
    assert set(by_name) == {"Level Mühlbach", "Temperature Mühlbach"}
    level = by_name["Level Mühlbach"]
    assert level.description == "Level every 15 minutes"
    assert level.observation_type == MEASUREMENT
    unit = level.unit_of_measurement
    assert (unit.name, unit.symbol, unit.definition) == (
        UNIT["name"], UNIT["symbol"], UNIT["definition"]
    )
    assert by_name["Temperature Mühlbach"].unit_of_measurement.symbol == "°C"

    assert sorted((s.name, s.encoding_type, s.metadata) for s in sensors) == [
        ("Level sensor", "application/pdf", "https://example.org/level.pdf"),
        ("Temperature sensor", "application/pdf", "https://example.org/temperature.pdf"),
    ]
    assert sorted((p.name, p.definition) for p in observed) == [
        ("Level", "https://example.org/level"),
        ("Temperature", "https://example.org/temperature"),
    ]


def test_update_and_patch_thing(service: fsc.SensorThingsService) -> None:
    thing_id = create_gauge(service).id
    things = service.things()

    # update(): the client PUTs the whole Thing it holds, @iot.id included.
    with explained():
        thing = things.find(thing_id)
        thing.name = "Pegel Mühlbach (neu)"
        service.update(thing)
        after_put = things.find(thing_id)
    assert after_put.name == "Pegel Mühlbach (neu)"
    assert after_put.description == "water level gauge"
    assert after_put.properties == {"district": "Nord", "operator": "Tiefbauamt"}

    # patch(): JSON Patch operations, sent as application/json-patch+json.
    with explained():
        service.patch(after_put, [
            {"op": "replace", "path": "/name", "value": "Pegel Mühlbach Nord"},
            {"op": "add", "path": "/properties/height", "value": 231.5},
            {"op": "remove", "path": "/properties/operator"},
        ])
        after_patch = things.find(thing_id)
    assert after_patch.name == "Pegel Mühlbach Nord"
    assert after_patch.description == "water level gauge"
    assert after_patch.properties == {"district": "Nord", "height": 231.5}

    # Neither update touched the Thing's Location.
    with explained():
        locations = after_patch.get_locations().query().list().entities
    assert [loc.name for loc in locations] == ["Brücke Mühlbach"]


def post_levels(service: fsc.SensorThingsService, stream: fsc.Datastream) -> list[fsc.Observation]:
    """Four Observations; the first two nest the full Datastream object the client holds."""
    link_only = fsc.Datastream(id=stream.id)
    sent = []
    for i, (result, target) in enumerate(
        [(41.5, stream), (42.0, stream), (43.25, link_only), (44.75, link_only)]
    ):
        observation = fsc.Observation(
            result=result,
            phenomenon_time=START + timedelta(minutes=15 * i),
            datastream=target,
        )
        with explained():
            service.create(observation)
        sent.append(observation)
    return sent


def test_observations_created_through_the_client(service: fsc.SensorThingsService) -> None:
    thing = create_gauge(service)
    stream = level_stream(service, thing.id)
    # A stale local copy: a nested entity with @iot.id is only a link, so the server
    # must ignore its other fields (as FROST does) and not rename the Datastream.
    stream.name = "renamed by a nested link"
    stream.description = "this must not be stored"

    sent = post_levels(service, stream)
    ids = [obs.id for obs in sent]
    assert all(isinstance(i, int) for i in ids)
    assert len(set(ids)) == 4

    with explained():
        first = service.observations().find(ids[0])
        last = service.observations().find(ids[-1])
        unchanged = service.datastreams().find(stream.id)
    assert first.result == 41.5
    assert when(first.phenomenon_time) == START
    assert last.result == 44.75
    assert when(last.phenomenon_time) == START + timedelta(minutes=45)
    assert unchanged.name == "Level Mühlbach"
    assert unchanged.description == "Level every 15 minutes"

    # Every Observation landed in the Level Datastream, none in the Temperature one.
    with explained():
        temperature = next(
            ds for ds in service.things().find(thing.id).get_datastreams().query().list()
            if ds.name == "Temperature Mühlbach"
        )
        assert temperature.get_observations().query().list().entities == []
        owner = requests.get(
            f"{service.url.url}/Observations({ids[2]})/Datastream", timeout=5
        ).json()
    assert owner["@iot.id"] == stream.id


def test_list_observations_of_a_datastream(service: fsc.SensorThingsService) -> None:
    thing = create_gauge(service)
    stream = level_stream(service, thing.id)
    post_levels(service, stream)
    expected = {41.5, 42.0, 43.25, 44.75}

    # The plain listing: GET Datastreams(id)/Observations, no query options.
    with explained():
        listed = stream.get_observations().query().list()
    assert {obs.result for obs in listed.entities} == expected
    assert {when(obs.phenomenon_time) for obs in listed.entities} == {
        START + timedelta(minutes=15 * i) for i in range(4)
    }

    # Pages of two with a count: iterating the list follows @iot.nextLink.
    with explained():
        paged = stream.get_observations().query().top(2).count().list()
        assert paged.count == 4
        assert len(paged.entities) == 2
        assert paged.next_link is not None
        results = [obs.result for obs in paged]
    assert sorted(results) == sorted(expected)
    assert len(paged.entities) == 4

    # $select as the client sends it.
    with explained():
        picked = stream.get_observations().query().select("result", "id").list()
    assert {obs.result for obs in picked.entities} == expected
    assert all(obs.phenomenon_time is None for obs in picked.entities)


def test_order_observations_with_client_default(service: fsc.SensorThingsService) -> None:
    """``orderby(name)`` sends ``$orderby=name DESC``: the client's default, upper case.

    FROST's query grammar reads asc/desc ignoring case, so this must be accepted.
    """
    thing = create_gauge(service)
    stream = level_stream(service, thing.id)
    post_levels(service, stream)

    with explained():
        newest_first = stream.get_observations().query().orderby("phenomenonTime").list()
        oldest_first = stream.get_observations().query().orderby("phenomenonTime", "ASC").list()
    assert [obs.result for obs in newest_first.entities] == [44.75, 43.25, 42.0, 41.5]
    assert [obs.result for obs in oldest_first.entities] == [41.5, 42.0, 43.25, 44.75]
