"""Things for the use-case view tests, made through the SensorThings API."""

from __future__ import annotations

from typing import Any

from conftest import Api, location_body, sensor_body

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
