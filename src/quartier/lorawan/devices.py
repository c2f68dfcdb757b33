"""The device registry: which Thing a DevEUI is, and which Datastream each decoded field
feeds.

Registering a device writes, in one transaction, its Thing (with its Location when one is
given), one Datastream per field of its profile (linked to the profile's Sensor and
ObservedProperties), one TaskingCapability per template of the profile and the registry
row. Many devices (a CSV of 500) are one batch: all
of them are registered, or none.
"""

from __future__ import annotations

import csv
import io
import re
import time
from dataclasses import dataclass
from typing import Any

from quartier.errors import BadRequest, Conflict, NotFound, Unprocessable
from quartier.lorawan.profiles import Profile, by_id
from quartier.lorawan.profiles import find as find_profile
from quartier.model.changes import Batch, Record, Ref
from quartier.model.entities import ENTITY_TYPES
from quartier.model.parse import known_members, parse_create
from quartier.model.values import JSON
from quartier.store import Store

_DEV_EUI = re.compile(r"[0-9A-Fa-f]{16}")
_KEYS = {"devEui", "name", "profile", "description", "location", "properties"}
_THING = ENTITY_TYPES["Thing"]
_DATASTREAM = ENTITY_TYPES["Datastream"]
_CAPABILITY = ENTITY_TYPES["TaskingCapability"]
MAX_DEVICES = 10_000  # in one registration
CACHE_SECONDS = 10.0  # how long a worker trusts what it read of a device


@dataclass(frozen=True)
class NewDevice:
    dev_eui: str
    name: str
    profile: str
    description: str
    location: dict[str, Any] | None  # GeoJSON geometry
    properties: dict[str, Any]


@dataclass(frozen=True)
class Device:
    id: int
    dev_eui: str
    name: str
    profile: Profile
    thing_id: int | None
    datastreams: dict[str, int]  # decoded field -> Datastream id

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "devEui": self.dev_eui, "name": self.name,
                "profile": self.profile.name, "thingId": self.thing_id,
                "datastreams": self.datastreams}


def dev_eui(raw: Any, what: str = "devEui") -> str:
    """A DevEUI as 16 upper-case hex digits (dashes and colons between pairs allowed)."""
    text = raw.replace("-", "").replace(":", "") if isinstance(raw, str) else raw
    if not isinstance(text, str) or not _DEV_EUI.fullmatch(text):
        raise BadRequest(f"{what} must be 16 hexadecimal digits, e.g. 70B3D57ED0001234, not {raw!r}")
    return text.upper()


def parse_device(body: Any, what: str = "the device") -> NewDevice:
    if not isinstance(body, dict):
        raise BadRequest(f"{what} must be a JSON object with devEui, name and profile")
    known_members(body, _KEYS, what)
    eui = dev_eui(body.get("devEui"), f"{what}: devEui")
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise BadRequest(f"{what}: name must be a non-empty string")
    profile = body.get("profile")
    if not isinstance(profile, str) or not profile:
        raise BadRequest(f"{what}: profile must name a device profile")
    description = body.get("description", f"LoRaWAN device {eui}")
    if not isinstance(description, str):
        raise BadRequest(f"{what}: description must be a string")
    properties = body.get("properties", {})
    if not isinstance(properties, dict):
        raise BadRequest(f"{what}: properties must be a JSON object")
    return NewDevice(eui, name.strip(), profile, description,
                     _location(body.get("location"), what), properties)


def _location(raw: Any, what: str) -> dict[str, Any] | None:
    """A GeoJSON geometry, or a point from {latitude, longitude[, altitude]}."""
    if raw is None:
        return None
    if isinstance(raw, dict) and "latitude" in raw:
        return point(raw.get("latitude"), raw.get("longitude"), raw.get("altitude"), what)
    if not isinstance(raw, dict) or "type" not in raw:
        raise BadRequest(f"{what}: location is a GeoJSON geometry or "
                         '{"latitude": …, "longitude": …}')
    return raw


def point(lat: Any, lon: Any, alt: Any, what: str) -> dict[str, Any]:
    """A GeoJSON point from WGS 84 degrees (and metres); 400 when out of range."""
    numbers = [v for v in (lat, lon, alt) if v is not None]
    if lat is None or lon is None or any(
            isinstance(v, bool) or not isinstance(v, int | float) for v in numbers):
        raise BadRequest(f"{what}: latitude and longitude must be numbers")
    if not (-90 <= lat <= 90 and -180 <= lon <= 180) or (lat == 0 and lon == 0):
        raise BadRequest(f"{what}: ({lat}, {lon}) is no position on Earth a device reports")
    coordinates = [float(lon), float(lat)] + ([float(alt)] if alt is not None else [])
    return {"type": "Point", "coordinates": coordinates}


def read_csv(text: str) -> list[NewDevice]:
    """Devices from CSV with a header line: devEui, name, profile, and optionally latitude,
    longitude, altitude, description; other columns become Thing properties. Every line is
    checked first; 422 lists the bad lines (nothing is registered)."""
    sample = text[:4096]
    delimiter = ";" if sample.count(";") > sample.count(",") else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise BadRequest("the CSV is empty; its first line names the columns "
                         "(devEui,name,profile,latitude,longitude)") from None
    lowered = [h.lower() for h in header]
    missing = [c for c in ("deveui", "name", "profile") if c not in lowered]
    if missing:
        raise BadRequest(f"the CSV header lacks the column(s) {', '.join(missing)}; it has "
                         f"{', '.join(header)}")
    known = {"deveui": "devEui", "name": "name", "profile": "profile", "latitude": "latitude",
             "longitude": "longitude", "altitude": "altitude", "description": "description"}
    devices: list[NewDevice] = []
    errors: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            errors.append({"line": line, "message": f"{len(row)} fields, the header has {len(header)}"})
            continue
        body: dict[str, Any] = {}
        properties: dict[str, Any] = {}
        for column, cell in zip(header, row, strict=True):
            key = known.get(column.lower())
            if key is None:
                if cell.strip():
                    properties[column] = cell.strip()
            elif cell.strip():
                body[key] = cell.strip()
        try:
            for key in ("latitude", "longitude", "altitude"):
                if key in body:
                    body[key] = _number(body[key], key)
            if "latitude" in body or "longitude" in body:
                body["location"] = {k: body.pop(k, None) for k in ("latitude", "longitude", "altitude")}
            body["properties"] = properties
            device = parse_device(body, f"line {line}")
        except BadRequest as exc:
            errors.append({"line": line, "message": exc.message})
            continue
        if device.dev_eui in seen:
            errors.append({"line": line, "message": f"DevEUI {device.dev_eui} is on line "
                                                     f"{seen[device.dev_eui]} already"})
            continue
        seen[device.dev_eui] = line
        devices.append(device)
    if errors:
        raise Unprocessable(f"{len(errors)} lines of the CSV are bad; no device was registered",
                            errors=errors[:100])
    if not devices:
        raise BadRequest("the CSV lists no devices")
    return devices


def _number(text: str, what: str) -> float:
    try:
        return float(text.replace(",", ".") if text.count(",") == 1 and "." not in text else text)
    except ValueError:
        raise BadRequest(f"{what} {text!r} is not a number") from None


# -- the store --------------------------------------------------------------------------

_DEVICE_COLUMNS = "id, dev_eui, name, profile_id, thing_id, datastreams"


class DeviceRegistry:
    """The registered devices of one store, with a short-lived cache for uplinks."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._cache: dict[tuple[int, str], tuple[float, Device | None]] = {}
        self._profiles: dict[int, Profile] = {}  # a stored profile never changes

    async def register(self, tenant_id: int, devices: list[NewDevice]) -> list[Device]:
        """Register devices with their Things and Datastreams, all or none."""
        if len(devices) > MAX_DEVICES:
            raise BadRequest(f"register at most {MAX_DEVICES} devices at once, not {len(devices)}")
        profiles: dict[str, Profile] = {}
        for device in devices:
            if device.profile not in profiles:
                found = await find_profile(self.store, tenant_id, device.profile)
                if found is None:
                    raise Unprocessable(f"no device profile {device.profile!r} (for "
                                        f"{device.dev_eui}); create it with POST /api/device-profiles")
                profiles[device.profile] = found
        taken = await self._registered(tenant_id, [d.dev_eui for d in devices])
        if taken:
            raise Conflict(f"{len(taken)} of these DevEUIs are registered already: "
                           f"{', '.join(sorted(taken)[:20])}")
        batch = Batch()
        for device in devices:
            _add_registration(batch, tenant_id, device, profiles[device.profile])
        await self.store.write(tenant_id, batch)
        self._cache.clear()
        return [await self.find(tenant_id, d.dev_eui) for d in devices]

    async def _registered(self, tenant_id: int, euis: list[str]) -> list[str]:
        taken: list[str] = []
        async with self.store.reader() as conn:
            for start in range(0, len(euis), 500):
                chunk = euis[start:start + 500]
                taken += [str(r[0]) for r in await conn.fetch(
                    f"SELECT dev_eui FROM devices WHERE tenant_id = ? AND dev_eui IN "
                    f"({', '.join('?' * len(chunk))})", [tenant_id, *chunk])]
        return taken

    async def find(self, tenant_id: int, eui: str) -> Device:
        """The registered device; 404 when there is none."""
        async with self.store.reader() as conn:
            row = await conn.fetchrow(
                f"SELECT {_DEVICE_COLUMNS} FROM devices WHERE tenant_id = ? AND dev_eui = ?",
                (tenant_id, eui))
        if row is None:
            raise NotFound(f"no device with DevEUI {eui} is registered")
        return await self._device(tenant_id, row)

    async def lookup(self, tenant_id: int, eui: str) -> Device | None:
        """The device for an uplink, from the cache when it is fresh (:data:`CACHE_SECONDS`):
        another worker's registration or deletion is seen that much later."""
        now = time.monotonic()
        hit = self._cache.get((tenant_id, eui))
        if hit is not None and now - hit[0] < CACHE_SECONDS:
            return hit[1]
        try:
            device: Device | None = await self.find(tenant_id, eui)
        except NotFound:
            device = None
        if len(self._cache) > 100_000:
            self._cache.clear()
        self._cache[(tenant_id, eui)] = (now, device)
        return device

    async def listing(self, tenant_id: int, limit: int, offset: int,
                      search: str = "") -> tuple[list[Device], int]:
        """A page of devices by DevEUI; with ``search``, those whose name or DevEUI holds
        it (ignoring case)."""
        where = "tenant_id = ?"
        params: list[Any] = [tenant_id]
        if search:
            lower = "quartier_lower" if self.store.dialect.name == "sqlite" else "lower"
            pattern = "%" + re.sub(r"([\\%_])", r"\\\1", search.lower()) + "%"
            where += f" AND ({lower}(name) LIKE ? ESCAPE '\\' OR lower(dev_eui) LIKE ? ESCAPE '\\')"
            params += [pattern, pattern]
        async with self.store.reader() as conn:
            rows = await conn.fetch(
                f"SELECT {_DEVICE_COLUMNS} FROM devices WHERE {where} ORDER BY dev_eui "
                "LIMIT ? OFFSET ?", (*params, limit, offset))
            total = await conn.fetchval(f"SELECT count(*) FROM devices WHERE {where}", params)
        return [await self._device(tenant_id, row) for row in rows], int(total)

    async def delete(self, tenant_id: int, eui: str) -> None:
        """Forget a device; its Thing, Datastreams and Observations stay."""
        async with self.store.transaction() as conn:
            gone = await conn.fetchval(
                "DELETE FROM devices WHERE tenant_id = ? AND dev_eui = ? RETURNING id",
                (tenant_id, eui))
        if gone is None:
            raise NotFound(f"no device with DevEUI {eui} is registered")
        self._cache.clear()

    async def _device(self, tenant_id: int, row: Any) -> Device:
        profile_id = int(row[3])
        profile = self._profiles.get(profile_id)
        if profile is None:
            profile = self._profiles[profile_id] = await by_id(self.store, tenant_id, profile_id)
        streams = self.store.dialect.decode(JSON, row[5])
        return Device(int(row[0]), str(row[1]), str(row[2]), profile,
                      None if row[4] is None else int(row[4]),
                      {k: int(v) for k, v in streams.items()})


def _add_registration(batch: Batch, tenant_id: int, device: NewDevice, profile: Profile) -> None:
    thing: dict[str, Any] = {
        "name": device.name, "description": device.description,
        "properties": {**device.properties, "devEui": device.dev_eui, "deviceProfile": profile.name},
    }
    if device.location is not None:
        thing["Locations"] = [{"name": device.name, "description": f"Position of {device.name}",
                               "encodingType": "application/geo+json", "location": device.location}]
    thing_ref = parse_create(_THING, thing, into=batch)[1]
    datastreams = _THING.find_relation("Datastreams")
    assert datastreams is not None
    streams: dict[str, Ref] = {}
    for spec in profile.fields:
        body = {"name": f"{device.name} {spec.name}",
                "description": f"{spec.name} of {device.name} (field {spec.key})",
                "unitOfMeasurement": spec.unit, "observationType": spec.observation_type,
                "properties": {"devEui": device.dev_eui, "field": spec.key},
                "Sensor": {"@iot.id": profile.sensor_id},
                "ObservedProperty": {"@iot.id": spec.observed_property_id}}
        streams[spec.key] = parse_create(_DATASTREAM, body, (datastreams, thing_ref), into=batch)[1]
    capabilities = _THING.find_relation("TaskingCapabilities")
    assert capabilities is not None
    for template in profile.capabilities:
        parse_create(_CAPABILITY, {
            "name": template.name, "description": template.description,
            "taskingParameters": template.parameters,
            "properties": {**template.properties, "devEui": device.dev_eui},
            "Actuator": {"@iot.id": template.actuator_id}}, (capabilities, thing_ref), into=batch)
    batch.records.append(Record("devices", {
        "tenant_id": tenant_id, "dev_eui": device.dev_eui, "name": device.name,
        "profile_id": profile.id, "thing_id": thing_ref, "datastreams": streams,
    }, unique=Conflict(f"DevEUI {device.dev_eui} is registered already")))
