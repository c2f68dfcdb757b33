"""Uplinks in: from a network server's message to Observations, on the one write path.

For each uplink: find the device by its DevEUI, take the network server's decoded fields
(or decode the payload with the profile's decoder), and write one batch with an
Observation per mapped field (the radio metadata as its ``parameters``), a new Location
for the Thing when the uplink carries a GPS fix that moved it, and the mark that this
uplink is stored. The mark's key is unique per device, so the same uplink delivered
twice (a webhook retry, two MQTT workers) is stored once: the second batch fails as a
whole and is answered as a duplicate.

What cannot be stored (malformed JSON, an unknown device, an undecodable payload, no
mapped field) is kept as a dead letter, and its sender gets a 4xx.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

from quartier import deadletters
from quartier.api.body import parse_json
from quartier.errors import BadRequest, Conflict, NotFound, QuartierError, Unprocessable
from quartier.lorawan import integrations
from quartier.lorawan.decoders import DecodeError, get_decoder
from quartier.lorawan.devices import Device, DeviceRegistry, point
from quartier.lorawan.integrations import Integration
from quartier.lorawan.uplink import Uplink, parse_chirpstack, parse_tts
from quartier.model.changes import Batch, Create, IdRef, NewRef, Record, Update
from quartier.model.entities import ENTITY_TYPES
from quartier.model.parse import parse_members
from quartier.model.values import JSON, TIME
from quartier.store import Store

_OBSERVATION = ENTITY_TYPES["Observation"]
_LOCATION = ENTITY_TYPES["Location"]
_THING = ENTITY_TYPES["Thing"]
INTEGRATION_SECONDS = 10.0  # how long a worker trusts what it read of an integration
SEEN_DAYS = 14  # how long the marks of stored uplinks are kept
_MOVED_DEGREES = 1e-6  # about 0.1 m: a closer fix is the same position


class DuplicateUplink(Conflict):
    """The uplink was stored before (the same deduplication id or frame counter)."""


@dataclass
class Stored:
    """What became of one message."""

    observations: list[int] = field(default_factory=list)
    duplicate: bool = False
    ignored: str | None = None  # a valid message that is no uplink (a join, an ack, ...)
    device: Device | None = None


def source_of(integration: Integration, route: str) -> str:
    """The dead-letter source of a route in, e.g. ``lorawan:tts:webhook``."""
    return f"lorawan:{integration.network}:{route}"


class UplinkIngest:
    """Turns uplinks into Observations for every integration of one store."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.registry = DeviceRegistry(store)
        self._integrations: dict[tuple[int, str], tuple[float, Integration]] = {}

    async def integration(self, tenant_id: int, name: str, authorization: str | None) -> Integration:
        """The integration a webhook is for, when the request carries its secret (401)."""
        now = time.monotonic()
        hit = self._integrations.get((tenant_id, name))
        if hit is None or now - hit[0] > INTEGRATION_SECONDS:
            try:
                found = await integrations.find(self.store, tenant_id, name)
            except NotFound:
                found = None
            if found is None:
                self._integrations.pop((tenant_id, name), None)
                integrations.refuse()
            hit = self._integrations[(tenant_id, name)] = (now, found)
        integrations.check_secret(hit[1], authorization)
        return hit[1]

    async def message(self, integration: Integration, payload: bytes, event: str, route: str,
                      address: str) -> Stored:
        """Store one message of a network server (its raw bytes), or keep it as a dead
        letter and raise the 4xx that says why."""
        try:
            return await self.store_message(integration, payload, event)
        except QuartierError as exc:
            if exc.status >= 500 or isinstance(exc, DuplicateUplink):
                raise
            await deadletters.keep(self.store, integration.tenant_id, source_of(integration, route),
                                   address, payload, f"{exc.status}: {exc.message}")
            raise

    async def store_message(self, integration: Integration, payload: bytes, event: str) -> Stored:
        body = parse_json(payload)
        uplink = parse_tts(body) if integration.network == "tts" else parse_chirpstack(body, event)
        if uplink is None:
            return Stored(ignored=event if integration.network == "chirpstack" else _tts_kind(body))
        return await self.store_uplink(integration.tenant_id, uplink)

    async def store_uplink(self, tenant_id: int, uplink: Uplink) -> Stored:
        device = await self.registry.lookup(tenant_id, uplink.dev_eui)
        if device is None:
            raise Unprocessable(f"no device with DevEUI {uplink.dev_eui} is registered; register it "
                                "with POST /api/devices, then retry this dead letter")
        if device.thing_id is None:
            raise Unprocessable(f"the Thing of device {uplink.dev_eui} was deleted; delete the "
                                "device and register it again")
        fields = self._fields(device, uplink)
        batch = Batch()
        await self._add_position(batch, device, uplink, fields)
        mark = len(batch.changes)
        parameters = parse_members(_OBSERVATION, {"parameters": uplink.radio})[0]["parameters"]
        for key, datastream_id in device.datastreams.items():
            if key not in fields or fields[key] is None:
                continue
            batch.add(Create(_OBSERVATION, {
                "phenomenonTime": (uplink.received_at, None),
                "resultTime": uplink.received_at,
                "result": _result(fields[key], key),
                "parameters": parameters,
            }, {"Datastream": IdRef(ENTITY_TYPES["Datastream"], datastream_id)}))
        if len(batch.changes) == mark:
            raise Unprocessable(
                f"none of the uplink's fields ({', '.join(sorted(fields)) or 'none'}) feeds a "
                f"Datastream of device {device.dev_eui} (profile {device.profile.name!r} maps "
                f"{', '.join(sorted(device.datastreams))})")
        batch.records.append(Record("uplinks_seen", {
            "device_id": device.id, "dedup_key": uplink.dedup_key,
            "received_at": self.store.dialect.encode(TIME, uplink.received_at)},
            unique=DuplicateUplink(f"this uplink of {device.dev_eui} was stored before")))
        try:
            result = await self.store.write(tenant_id, batch)
        except DuplicateUplink:
            return Stored(duplicate=True, device=device)
        return Stored(result.ids[mark:], device=device)

    def _fields(self, device: Device, uplink: Uplink) -> dict[str, Any]:
        """The uplink's decoded fields: the network server's, else the profile decoder's."""
        if uplink.decoded:
            return uplink.decoded
        name = device.profile.decoder
        if name is None:
            raise Unprocessable(
                f"the uplink of {device.dev_eui} has no decoded fields and its profile "
                f"{device.profile.name!r} names no decoder; decode it in the network server or "
                "give the profile a decoder")
        if not uplink.payload:
            raise Unprocessable(f"the uplink of {device.dev_eui} carries no payload to decode")
        try:
            return get_decoder(name)(uplink.payload, uplink.f_port)
        except DecodeError as exc:
            raise Unprocessable(f"decoder {name!r} cannot read the payload "
                                f"{uplink.payload.hex()} (port {uplink.f_port}): {exc}") from None

    async def _add_position(self, batch: Batch, device: Device, uplink: Uplink,
                            fields: dict[str, Any]) -> None:
        """A new Location for the Thing when the uplink has a GPS fix elsewhere than the
        Thing's current one; its Observations then get a FeatureOfInterest there."""
        fix = _fix(device, uplink, fields)
        if fix is None:
            return
        assert device.thing_id is not None
        coordinates = fix["coordinates"]
        last = await self._current_position(device.thing_id)  # also moved by others
        if last is not None and all(
                abs(a - b) < _MOVED_DEGREES for a, b in zip(last, coordinates[:2], strict=True)):
            return
        location = NewRef(_LOCATION, batch.add(Create(_LOCATION, {
            "name": f"{device.name} position", "encodingType": "application/geo+json",
            "description": f"GPS fix of {device.name}", "location": fix})))
        batch.add(Update(IdRef(_THING, device.thing_id), {}, replace_links={"Locations": [location]}))

    async def _current_position(self, thing_id: int) -> tuple[float, float] | None:
        async with self.store.reader() as conn:
            raw = await conn.fetchval(
                "SELECT l.location FROM things_locations tl JOIN locations l ON l.id = "
                "tl.location_id WHERE tl.thing_id = ? ORDER BY l.id LIMIT 1", (thing_id,))
        geometry = self.store.dialect.decode(JSON, raw)
        if isinstance(geometry, dict) and geometry.get("type") == "Point":
            lon, lat = geometry["coordinates"][:2]
            return float(lon), float(lat)
        return None

    async def prune(self) -> int:
        """Forget the marks of uplinks older than :data:`SEEN_DAYS`."""
        from datetime import timedelta

        from quartier.model.times import now_utc

        cutoff = self.store.dialect.encode(TIME, now_utc() - timedelta(days=SEEN_DAYS))
        async with self.store.transaction() as conn:
            return await conn.execute("DELETE FROM uplinks_seen WHERE received_at < ?", (cutoff,))


def _fix(device: Device, uplink: Uplink, fields: dict[str, Any]) -> dict[str, Any] | None:
    """The GPS fix of an uplink as a GeoJSON point: the profile's position fields, else
    the network server's own; None when there is none or it is no real position."""
    names = device.profile.position
    try:
        if names is not None and fields.get(names["latitude"]) is not None:
            altitude = fields.get(names["altitude"]) if "altitude" in names else None
            return point(fields.get(names["latitude"]), fields.get(names["longitude"]), altitude,
                         "the GPS fix")
        if uplink.position is not None:
            lon, lat, alt = uplink.position
            return point(lat, lon, alt, "the GPS fix")
    except BadRequest:
        return None  # a device without a fix sends zeros; its other fields are still good
    return None


def _result(value: Any, key: str) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        raise Unprocessable(f"field {key} is {value}, which is no result")
    return parse_members(_OBSERVATION, {"result": value})[0]["result"]


def _tts_kind(body: Any) -> str:
    """Which kind of TTS message a non-uplink is, for the answer."""
    if isinstance(body, dict):
        for key in body:
            if key not in ("end_device_ids", "correlation_ids", "received_at", "unique_id"):
                return str(key)
    return "message"
