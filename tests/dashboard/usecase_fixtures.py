"""Things of the use cases for API tests, made through the SensorThings API: devices with
a Datastream per field (``properties/field``), as the device registry makes them, Things
with Datastreams of given definitions, and their values."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from conftest import Api, location_body, sensor_body

BERLIN = ZoneInfo("Europe/Berlin")
CATEGORY = "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_CategoryObservation"
MEASUREMENT = "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement"


def iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


def device(api: Api, name: str, properties: dict[str, Any], fields: list[str],
           point: tuple[float, float] = (9.18, 48.78)) -> dict[str, int]:
    """A Thing with one Datastream per field (``properties/field``); field -> id."""
    body = {
        "name": name, "description": name, "properties": properties,
        "Locations": [{"name": name, "description": "where", "encodingType": "application/geo+json",
                       "location": {"type": "Point", "coordinates": list(point)}}],
        "Datastreams": [{
            "name": f"{name} {f}", "description": f, "properties": {"field": f},
            "observationType": CATEGORY if f == "state" else MEASUREMENT,
            "unitOfMeasurement": {"name": f, "symbol": "", "definition": ""},
            "Sensor": {"name": "s", "description": "s", "encodingType": "text/plain", "metadata": "s"},
            "ObservedProperty": {"name": f, "definition": f"https://example.org/{f}", "description": f},
        } for f in fields],
    }
    thing = api.create("Things", body)
    streams = api.ok(f"Things({thing})/Datastreams", **{"$select": "id,properties"})["value"]
    return {"thing": thing, **{d["properties"]["field"]: d["@iot.id"] for d in streams}}


def write(api: Api, datastream: int, rows: list[tuple[datetime, Any]]) -> None:
    observe(api, datastream, [(iso(when), value) for when, value in rows])


OM = "http://www.opengis.net/def/observationType/OGC-OM/2.0/"


def datastream(name: str, definition: str, observation_type: str = "OM_Measurement",
               symbol: str = "µg/m³") -> dict[str, Any]:
    return {"name": name, "description": name, "observationType": OM + observation_type,
            "unitOfMeasurement": {"name": symbol, "symbol": symbol, "definition": ""},
            "Sensor": sensor_body(), "ObservedProperty": {
                "name": name, "definition": definition, "description": name}}


def thing(api: Api, name: str, properties: dict[str, Any], streams: list[dict[str, Any]],
          at: tuple[float, float] = (9.18, 48.78)) -> list[int]:
    """Create a Thing with its Datastreams; their ids, in the order given."""
    thing_id = api.create("Things", {
        "name": name, "description": name, "properties": properties,
        "Locations": [location_body(name, {"type": "Point", "coordinates": list(at)})],
        "Datastreams": streams})
    found = api.ok(f"Things({thing_id})/Datastreams", **{"$orderby": "id"})["value"]
    return [d["@iot.id"] for d in found]


def observe(api: Api, datastream_id: int, rows: list[tuple[str, Any]]) -> None:
    response = api.post("CreateObservations", [{
        "Datastream": {"@iot.id": datastream_id}, "components": ["phenomenonTime", "result"],
        "dataArray": [list(r) for r in rows]}])
    assert response.status_code == 201, response.text
    assert not any(str(link).startswith("error") for link in response.json()), response.text
