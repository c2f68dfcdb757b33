"""Device profiles: one definition that serves every device of a kind.

A profile names the decoder for raw payloads (when the network server sends no decoded
fields), the decoded fields that become Datastreams (each with its ObservedProperty, unit
and observation type), the fields that carry a GPS fix, and the Sensor. Creating a
profile creates its Sensor and ObservedProperties once (an ObservedProperty with the same
definition is reused), in one transaction with the profile row; each device registered
with the profile then gets one Datastream per field, linked to them.

The JSON form, as ``POST /api/device-profiles`` takes it::

    {"name": "ldds75-pegel", "description": "Ultrasonic gauge above a river",
     "decoder": "dragino-ldds75",
     "sensor": {"name": "Dragino LDDS75", "description": "...", "encodingType": "text/html",
                "metadata": "https://example.org/ldds75"},
     "fields": {"distance": {"name": "Distance to water",
                             "observedProperty": {"name": "Distance", "definition": "…"},
                             "unitOfMeasurement": {"name": "millimetre", "symbol": "mm",
                                                   "definition": "…"}}},
     "position": {"latitude": "latitude", "longitude": "longitude"},
     "taskingCapabilities": [{"name": "Switch and dim", "description": "…",
                              "taskingParameters": {"type": "DataRecord", "field": […]},
                              "actuator": {…}, "properties": {…}}]}

``taskingCapabilities`` are templates: each device registered with the profile gets one
TaskingCapability per template on its Thing, linked to the template's Actuator (created
with the profile, like the Sensor).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from quartier.errors import BadRequest, Conflict, NotFound
from quartier.lorawan.decoders import get_decoder
from quartier.model.changes import Batch, Create, IdRef, NewRef, Record, Ref
from quartier.model.entities import ENTITY_TYPES
from quartier.model.parse import known_members, parse_members
from quartier.model.swe import parse_data_record
from quartier.model.values import JSON
from quartier.store import Store

MEASUREMENT = "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
_FIELD = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,99}")
_KEYS = {"name", "description", "decoder", "sensor", "fields", "position", "taskingCapabilities"}
_CAPABILITY_KEYS = {"name", "description", "taskingParameters", "actuator", "properties"}
MAX_CAPABILITIES = 10
_FIELD_KEYS = {"name", "observedProperty", "unitOfMeasurement", "observationType"}
_SENSOR = ENTITY_TYPES["Sensor"]
_OBSERVED_PROPERTY = ENTITY_TYPES["ObservedProperty"]
_DATASTREAM = ENTITY_TYPES["Datastream"]
_ACTUATOR = ENTITY_TYPES["Actuator"]
_CAPABILITY = ENTITY_TYPES["TaskingCapability"]


@dataclass(frozen=True)
class FieldSpec:
    """A decoded field that becomes a Datastream of each device."""

    key: str  # its name in the decoded payload
    name: str  # the Datastream's name after the device's, e.g. "Water level"
    observed_property: dict[str, Any]
    unit: dict[str, Any]
    observation_type: str
    observed_property_id: int | None = None  # once stored


@dataclass(frozen=True)
class CapabilityTemplate:
    """A TaskingCapability each device of the profile gets."""

    name: str
    description: str
    parameters: dict[str, Any]  # a SWE Common DataRecord
    actuator: dict[str, Any]
    properties: dict[str, Any]
    actuator_id: int | None = None  # once stored

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description,
                "taskingParameters": self.parameters, "actuator": self.actuator,
                "properties": self.properties}


@dataclass(frozen=True)
class Profile:
    id: int | None
    name: str
    description: str
    decoder: str | None
    fields: tuple[FieldSpec, ...]
    position: dict[str, str] | None  # latitude, longitude[, altitude] -> decoded field
    sensor: dict[str, Any]
    sensor_id: int | None = None
    capabilities: tuple[CapabilityTemplate, ...] = ()

    def field(self, key: str) -> FieldSpec | None:
        return next((f for f in self.fields if f.key == key), None)

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name, "description": self.description, "decoder": self.decoder,
            "sensor": self.sensor,
            "fields": {
                f.key: {"name": f.name, "observedProperty": f.observed_property,
                        "unitOfMeasurement": f.unit, "observationType": f.observation_type}
                for f in self.fields
            },
            "position": self.position,
            "taskingCapabilities": [c.as_json() for c in self.capabilities],
        }
        if self.id is not None:
            out = {"id": self.id, **out, "sensorId": self.sensor_id, "observedPropertyIds": {
                f.key: f.observed_property_id for f in self.fields},
                "actuatorIds": [c.actuator_id for c in self.capabilities]}
        return out


def parse_profile(body: Any) -> Profile:
    """A profile from its JSON; 400 naming the first thing wrong."""
    if not isinstance(body, dict):
        raise BadRequest("a device profile is a JSON object with name, fields and optionally "
                         "description, decoder, sensor and position")
    known_members(body, _KEYS, "a device profile")
    name = body.get("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise BadRequest("name must be 1 to 100 letters, digits, dots, dashes or underscores, "
                         f"starting with a letter or digit, not {name!r}")
    description = body.get("description", f"LoRaWAN device profile {name}")
    if not isinstance(description, str):
        raise BadRequest("description must be a string")
    decoder = body.get("decoder")
    if decoder is not None:
        if not isinstance(decoder, str):
            raise BadRequest("decoder must be the name of a payload decoder, or null")
        get_decoder(decoder)  # 400 naming the known decoders
    sensor = _sensor(body.get("sensor"), name, description)
    fields = body.get("fields")
    if not isinstance(fields, dict) or not fields:
        raise BadRequest('fields must be an object with at least one decoded field, e.g. '
                         '{"temperature": {"observedProperty": {…}, "unitOfMeasurement": {…}}}')
    specs = tuple(_field(key, raw) for key, raw in fields.items())
    return Profile(None, name, description, decoder, specs, _position(body.get("position")),
                   sensor, capabilities=_capabilities(body.get("taskingCapabilities", []), name))


def _capabilities(raw: Any, profile: str) -> tuple[CapabilityTemplate, ...]:
    if not isinstance(raw, list) or len(raw) > MAX_CAPABILITIES:
        raise BadRequest(f"taskingCapabilities must be a list of at most {MAX_CAPABILITIES} "
                         "TaskingCapability templates")
    out = []
    for i, item in enumerate(raw):
        what = f"taskingCapabilities[{i}]"
        if not isinstance(item, dict):
            raise BadRequest(f"{what} must be an object with name, description and "
                             "taskingParameters (a DataRecord)")
        known_members(item, _CAPABILITY_KEYS, what)
        actuator = {"name": f"{profile} actuator", "description": f"Actuator of {profile}",
                    "encodingType": "text/plain", "metadata": profile}
        if item.get("actuator") is not None:
            if not isinstance(item["actuator"], dict):
                raise BadRequest(f"{what}.actuator must be a JSON object (a SensorThings Actuator)")
            actuator.update(item["actuator"])
        properties = item.get("properties", {})
        if not all(isinstance(item.get(k), str) and item[k] for k in ("name", "description")):
            raise BadRequest(f"{what}: name and description must be non-empty strings")
        probe = {"name": item.get("name"), "description": item.get("description"),
                 "taskingParameters": item.get("taskingParameters"), "properties": properties}
        try:
            parse_members(_ACTUATOR, actuator)
            parse_members(_CAPABILITY, probe)
            parse_data_record(probe["taskingParameters"], "taskingParameters")
        except BadRequest as exc:
            raise BadRequest(f"{what}: {exc.message}") from None
        out.append(CapabilityTemplate(str(item["name"]), str(item["description"]),
                                      probe["taskingParameters"], actuator, properties))
    return tuple(out)


def _sensor(raw: Any, name: str, description: str) -> dict[str, Any]:
    sensor = {"name": name, "description": description, "encodingType": "text/plain",
              "metadata": name}
    if raw is not None:
        if not isinstance(raw, dict):
            raise BadRequest("sensor must be a JSON object (a SensorThings Sensor)")
        sensor.update(raw)
    parse_members(_SENSOR, sensor)  # the Sensor's own rules, with its messages
    return sensor


def _field(key: Any, raw: Any) -> FieldSpec:
    what = f"fields.{key}"
    if not _FIELD.fullmatch(key):
        raise BadRequest(f"{what}: a field name is letters, digits, '_', '.' or '-', up to 100")
    if not isinstance(raw, dict):
        raise BadRequest(f"{what} must be an object with observedProperty and unitOfMeasurement")
    known_members(raw, _FIELD_KEYS, what)
    observed = raw.get("observedProperty")
    if not isinstance(observed, dict) or not isinstance(observed.get("name"), str):
        raise BadRequest(f"{what}.observedProperty must be an object with at least a name "
                         "(and a definition, a URI)")
    observed = {"definition": f"urn:quartier:field:{key}", "description": observed["name"],
                **observed}
    try:
        parse_members(_OBSERVED_PROPERTY, observed)
    except BadRequest as exc:
        raise BadRequest(f"{what}.observedProperty: {exc.message}") from None
    unit = raw.get("unitOfMeasurement", {"name": None, "symbol": None, "definition": None})
    observation_type = raw.get("observationType", MEASUREMENT)
    name = raw.get("name", observed["name"])
    if not isinstance(name, str) or not name:
        raise BadRequest(f"{what}.name must be a non-empty string")
    probe = {"name": name, "description": name, "unitOfMeasurement": unit,
             "observationType": observation_type}
    try:
        parse_members(_DATASTREAM, probe)
    except BadRequest as exc:
        raise BadRequest(f"{what}: {exc.message}") from None
    return FieldSpec(key, name, observed, unit, observation_type)


def _position(raw: Any) -> dict[str, str] | None:
    if raw is None:
        return None
    if (not isinstance(raw, dict) or not {"latitude", "longitude"} <= set(raw)
            or not set(raw) <= {"latitude", "longitude", "altitude"}
            or not all(isinstance(v, str) and v for v in raw.values())):
        raise BadRequest('position names the decoded fields of a GPS fix: {"latitude": "lat", '
                         '"longitude": "lon"} and optionally "altitude"')
    return dict(raw)


# -- the store --------------------------------------------------------------------------

_COLUMNS = "id, name, definition"


async def create(store: Store, tenant_id: int, profile: Profile) -> Profile:
    """Store a profile with its Sensor and ObservedProperties; 409 when the name is taken."""
    async with store.reader() as conn:
        if await conn.fetchval("SELECT 1 FROM device_profiles WHERE tenant_id = ? AND name = ?",
                               (tenant_id, profile.name)) is not None:
            raise Conflict(f"a device profile named {profile.name!r} exists already")
        known: dict[str, Ref] = {}
        for spec in profile.fields:
            found = await conn.fetchval(
                "SELECT min(id) FROM observed_properties WHERE tenant_id = ? AND definition = ?",
                (tenant_id, spec.observed_property["definition"]))
            if found is not None:
                known[spec.observed_property["definition"]] = IdRef(_OBSERVED_PROPERTY, int(found))
    batch = Batch()
    add_profile(batch, tenant_id, profile, known)
    await store.write(tenant_id, batch)
    found = await find(store, tenant_id, profile.name)
    assert found is not None
    return found


def add_profile(batch: Batch, tenant_id: int, profile: Profile, observed: dict[str, Ref]) -> None:
    """Add to ``batch`` the profile's row with its Sensor, Actuators and the
    ObservedProperties ``observed`` (definition -> reference) has not; those it creates
    join ``observed``."""
    sensor = NewRef(_SENSOR, batch.add(Create(_SENSOR, parse_members(_SENSOR, profile.sensor)[0])))
    fields: dict[str, Ref] = {}
    for spec in profile.fields:
        definition = spec.observed_property["definition"]
        if definition not in observed:
            values = parse_members(_OBSERVED_PROPERTY, spec.observed_property)[0]
            observed[definition] = NewRef(_OBSERVED_PROPERTY, batch.add(Create(_OBSERVED_PROPERTY, values)))
        fields[spec.key] = observed[definition]
    actuators = [NewRef(_ACTUATOR, batch.add(Create(_ACTUATOR, parse_members(_ACTUATOR, c.actuator)[0])))
                 for c in profile.capabilities]
    definition = profile.as_json()
    definition["sensorId"] = sensor
    definition["observedPropertyIds"] = fields
    definition["actuatorIds"] = actuators
    batch.records.append(Record(
        "device_profiles", {"tenant_id": tenant_id, "name": profile.name, "definition": definition},
        unique=Conflict(f"a device profile named {profile.name!r} exists already")))


async def find(store: Store, tenant_id: int, name: str) -> Profile | None:
    async with store.reader() as conn:
        row = await conn.fetchrow(
            f"SELECT {_COLUMNS} FROM device_profiles WHERE tenant_id = ? AND name = ?",
            (tenant_id, name))
    return None if row is None else _from_row(store, row)


async def by_id(store: Store, tenant_id: int, profile_id: int) -> Profile:
    async with store.reader() as conn:
        row = await conn.fetchrow(
            f"SELECT {_COLUMNS} FROM device_profiles WHERE tenant_id = ? AND id = ?",
            (tenant_id, profile_id))
    if row is None:
        raise NotFound(f"no device profile {profile_id}")
    return _from_row(store, row)


async def listing(store: Store, tenant_id: int) -> list[Profile]:
    async with store.reader() as conn:
        rows = await conn.fetch(
            f"SELECT {_COLUMNS} FROM device_profiles WHERE tenant_id = ? ORDER BY name",
            (tenant_id,))
    return [_from_row(store, row) for row in rows]


async def delete(store: Store, tenant_id: int, name: str) -> None:
    """Drop a profile no device uses (its Sensor and ObservedProperties stay)."""
    async with store.transaction() as conn:
        row = await conn.fetchrow(
            "SELECT id, (SELECT count(*) FROM devices d WHERE d.profile_id = p.id) "
            "FROM device_profiles p WHERE tenant_id = ? AND name = ?", (tenant_id, name))
        if row is None:
            raise NotFound(f"no device profile {name!r}")
        if row[1]:
            raise Conflict(f"{row[1]} devices use the profile {name!r}; delete them first")
        await conn.execute("DELETE FROM device_profiles WHERE id = ?", (row[0],))


def _from_row(store: Store, row: Any) -> Profile:
    data = store.dialect.decode(JSON, row[2])
    ids = data.get("observedPropertyIds", {})
    fields = tuple(
        FieldSpec(key, spec["name"], spec["observedProperty"], spec["unitOfMeasurement"],
                  spec["observationType"], ids.get(key))
        for key, spec in data["fields"].items()
    )
    actuators = data.get("actuatorIds", [])
    capabilities = tuple(
        CapabilityTemplate(c["name"], c["description"], c["taskingParameters"], c["actuator"],
                           c.get("properties", {}), actuators[i] if i < len(actuators) else None)
        for i, c in enumerate(data.get("taskingCapabilities", []))
    )
    return Profile(int(row[0]), str(row[1]), data["description"], data.get("decoder"), fields,
                   data.get("position"), data["sensor"], data.get("sensorId"), capabilities)
