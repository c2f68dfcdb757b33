"""Creating the demo town in a running Quartier, through its public API only.

Street lighting and the fleet come as the built-in use-case packages (``POST
/api/packages``: their device profiles, TaskingCapability templates, rules and groups),
set to this town's place and depot. The other LoRaWAN devices (parking bays) get device
profiles of their own; all are registered with ``POST /api/devices``. Devices without
LoRaWAN become Things with their Location and Datastreams by deep insert. What exists
already (found by the Things' ``properties/device``) is kept, so a second run against the
same Quartier goes on where the first stopped. Each network server gets an integration
whose fresh webhook secret the simulator then uses; The Things Stack's also gets the
``downlink`` settings of the simulator's downlink receiver, when it runs one, and each
lamp without one (the package's profile gives each lamp its own) a TaskingCapability
(switch and dim), so that Tasks reach the simulated lamps.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx2 as httpx

from quartier.demo.build import SimTown
from quartier.demo.catalog import Field
from quartier.demo.devices import Lamp, SimDevice
from quartier.tasking import streetlight
from quartier.usecases.fleet.geofences import depot_area
from quartier.usecases.packages.builtin import BUILT_IN, built_in

log = logging.getLogger(__name__)
_REGISTER_CHUNK = 2_000
_IN_FLIGHT = 8  # requests at once while making TaskingCapabilities
_ACTUATOR = "Luminaire controller output"
_SENSORS = {
    "gauge": ("Radar level sensor", "Non-contact radar water-level sensor above the water"),
    "rain_gauge": ("Tipping-bucket rain gauge", "Heated tipping-bucket rain gauge, 0.1 mm"),
    "water_works": ("Water-quality probe set", "Online probes for turbidity, pH, chlorine, "
                    "conductivity and an electromagnetic flow meter"),
    "air_quality": ("Air-quality station", "Electrochemical NO2 cell and optical particle counter, "
                    "with temperature and humidity"),
    "traffic_counter": ("Counting camera", "Counts road users by direction and class on the "
                        "device; no images leave it"),
    "streetlight": ("Luminaire controller", "LoRaWAN luminaire controller with power metering"),
    "cabinet": ("Cabinet monitor", "LoRaWAN monitor of a lighting control cabinet"),
    "parking_bay": ("Parking bay sensor", "Magnetometer in the road surface of one bay"),
    "vehicle": ("Vehicle tracker", "LoRaWAN GPS tracker wired to the vehicle's bus"),
}


class ProvisionError(Exception):
    """The target Quartier refused part of the town; the message says what and why."""


@dataclass
class Provisioned:
    datastreams: dict[tuple[str, str], int] = field(default_factory=dict)  # (device, field) -> id
    secrets: dict[str, str] = field(default_factory=dict)  # network -> webhook secret
    integrations: dict[str, str] = field(default_factory=dict)  # network -> integration name
    things: dict[str, int] = field(default_factory=dict)  # device key -> Thing id
    created: int = 0  # devices created by this run


def slug(text: str) -> str:
    table = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue"})
    return re.sub(r"[^a-z0-9]+", "-", text.translate(table).lower()).strip("-") or "town"


class Provisioner:
    def __init__(self, client: httpx.AsyncClient, sim: SimTown, prefix: str = "",
                 downlink: dict[str, Any] | None = None) -> None:
        self.client = client
        self.downlink = downlink  # The Things Stack's downlink settings, if lamps take Tasks
        self.sim = sim
        self.api = f"{prefix}/api"
        self.sta = f"{prefix}/v1.1"
        self.out = Provisioned()

    async def run(self) -> Provisioned:
        lorawan = [d for d in self.sim.devices if d.dev_eui is not None]
        others = [d for d in self.sim.devices if d.dev_eui is None]
        await self._packages()
        await self._profiles(lorawan)
        await self._register(lorawan)
        await self._things(others)
        for network in sorted({d.channel for d in [*lorawan, *self.sim.strangers]}):
            await self._integration(network)
        if self.downlink is not None:
            await self._capabilities([d for d in lorawan if isinstance(d, Lamp)])
        await self._rules()
        await self._basemap()
        return self.out

    async def _basemap(self) -> None:
        """The town's districts, waters and streets as the dashboard's base map (each
        layer replaced, so a changed town file shows)."""
        for name, collection in town_basemap(self.sim).items():
            await self._call("PUT", f"{self.api}/basemap/{name}", (200, 201), json=collection)

    async def _packages(self) -> None:
        """The built-in packages of the use cases the town has, installed (again: an
        import matches what exists) with the town's own place and depot."""
        for body in town_packages(self.sim):
            response = await self.client.post(f"{self.api}/packages", json=body)
            if response.status_code == 403:  # an editor's key: the profiles come without them
                log.warning("installing the use-case packages needs an admin key; the town's "
                            "lamps and vehicles get their device profiles without the packages")
                return
            if response.status_code != 201:
                raise ProvisionError(f"POST /api/packages: {response.status_code} {response.text[:500]}")

    async def _rules(self) -> None:
        """The rules a town office would start with; kept if they exist."""
        for path, body in demo_rules(self.sim):
            name = body["name"]
            if (await self.client.get(f"{self.api}/rules/{name}")).status_code == 200:
                continue
            await self._call("POST", f"{self.api}/{path}", (201,), json=body)

    async def _call(self, method: str, url: str, ok: tuple[int, ...], **kwargs: Any) -> Any:
        response = await self.client.request(method, url, **kwargs)
        if response.status_code not in ok:
            raise ProvisionError(f"{method} {url}: {response.status_code} {response.text[:500]}")
        return response.json() if response.content else None

    # -- LoRaWAN ----------------------------------------------------------------------

    async def _profiles(self, devices: list[SimDevice]) -> None:
        done: set[str] = set()
        for device in devices:
            name = device.profile
            if name is None or name in done:
                continue
            done.add(name)
            found = await self.client.get(f"{self.api}/device-profiles/{name}")
            if found.status_code == 200:
                continue
            label, description = _SENSORS[device.kind]
            body: dict[str, Any] = {
                "name": name, "description": f"{label} ({self.sim.town.name} demo)",
                "sensor": {"name": label, "description": description,
                           "encodingType": "text/plain", "metadata": label},
                "fields": {f.key: _profile_field(f) for f in device.fields},
            }
            if "latitude" in {f.key for f in device.fields}:
                body["position"] = {"latitude": "latitude", "longitude": "longitude"}
            await self._call("POST", f"{self.api}/device-profiles", (201,), json=body)

    async def _register(self, devices: list[SimDevice]) -> None:
        known: dict[str, dict[str, Any]] = {}
        offset = 0
        while True:
            page = await self._call("GET", f"{self.api}/devices?limit=1000&offset={offset}", (200,))
            for item in page["value"]:
                known[item["devEui"]] = item
            offset += len(page["value"])
            if not page["value"] or offset >= page["total"]:
                break
        missing = [d for d in devices if d.dev_eui not in known]
        for start in range(0, len(missing), _REGISTER_CHUNK):
            chunk = missing[start:start + _REGISTER_CHUNK]
            body = [self._device_body(d) for d in chunk]
            answer = await self._call("POST", f"{self.api}/devices", (201,), json=body)
            for item in answer["value"]:
                known[item["devEui"]] = item
            self.out.created += len(chunk)
        for device in devices:
            item = known[device.dev_eui or ""]
            self.out.things[device.key] = item["thingId"]
            for key, datastream in item["datastreams"].items():
                self.out.datastreams[(device.key, key)] = datastream

    def _device_body(self, device: SimDevice) -> dict[str, Any]:
        lon, lat = self.sim.town.to_lonlat(*device.xy)
        return {"devEui": device.dev_eui, "name": device.name, "profile": device.profile,
                "description": f"{_SENSORS[device.kind][0]}: {device.name}",
                "location": {"latitude": round(lat, 6), "longitude": round(lon, 6)},
                "properties": {**device.properties, "device": device.key}}

    async def _integration(self, network: str) -> None:
        name = f"{slug(self.sim.town.name)}-{network}"
        found = await self.client.get(f"{self.api}/lorawan/integrations/{name}")
        if found.status_code == 200:
            await self._call("DELETE", f"{self.api}/lorawan/integrations/{name}", (204,))
        body: dict[str, Any] = {"name": name, "network": network}
        if network == "tts" and self.downlink is not None:
            body["downlink"] = self.downlink
        answer = await self._call("POST", f"{self.api}/lorawan/integrations", (201,), json=body)
        self.out.integrations[network] = name
        self.out.secrets[network] = answer["secret"]

    async def _capabilities(self, lamps: list[Lamp]) -> None:
        """A TaskingCapability for each lamp that has none yet."""
        have: set[int] = set()
        url = f"{self.sta}/TaskingCapabilities?$select=id&$expand=Thing($select=id)&$top=1000"
        while url:
            page = await self._call("GET", url, (200,))
            have |= {c["Thing"]["@iot.id"] for c in page["value"] if c.get("Thing")}
            url = page.get("@iot.nextLink", "")
        missing = [self.out.things[lamp.key] for lamp in lamps if self.out.things[lamp.key] not in have]
        if not missing:
            return
        actuator = await self._create("Actuators", {
            "name": _ACTUATOR, "description": "Switches and dims the luminaire (DALI)",
            "encodingType": "text/plain", "metadata": "LoRaWAN luminaire controller, port 10"})
        slots = asyncio.Semaphore(_IN_FLIGHT)

        async def make(thing: int) -> None:
            async with slots:
                await self._create("TaskingCapabilities", {
                    "name": "Schalten und Dimmen", "description": "Switch the lamp and set its level",
                    "taskingParameters": streetlight.TASKING_PARAMETERS,
                    "Actuator": {"@iot.id": actuator}, "Thing": {"@iot.id": thing}})

        await asyncio.gather(*(make(thing) for thing in missing))

    # -- Things by deep insert --------------------------------------------------------

    async def _things(self, devices: list[SimDevice]) -> None:
        if not devices:
            return
        existing = await self._existing_things()
        observed: dict[str, int] = {}
        sensors: dict[str, int] = {}
        for device in devices:
            if device.key in existing:
                thing_id, datastreams = existing[device.key]
            else:
                for f in device.fields:
                    definition = f.observed_property()["definition"]
                    if definition not in observed:
                        observed[definition] = await self._observed_property(f)
                if device.kind not in sensors:
                    sensors[device.kind] = await self._sensor(device.kind)
                thing_id = await self._create_thing(device, observed, sensors[device.kind])
                datastreams = await self._datastreams_of(thing_id)
                self.out.created += 1
            self.out.things[device.key] = thing_id
            for f in device.fields:
                name = f"{device.name} {f.name}"
                if name not in datastreams:
                    raise ProvisionError(f"Thing {thing_id} ({device.name}) has no Datastream "
                                         f"named {name!r}; was it changed by hand?")
                self.out.datastreams[(device.key, f.key)] = datastreams[name]

    async def _existing_things(self) -> dict[str, tuple[int, dict[str, int]]]:
        town = self.sim.town.name.replace("'", "''")
        url = (f"{self.sta}/Things?$filter=" + quote(f"startswith(properties/town, '{town}')") +
               "&$select=id,properties&$expand=Datastreams($select=id,name;$top=100)&$top=1000")
        out: dict[str, tuple[int, dict[str, int]]] = {}
        while url:
            page = await self._call("GET", url, (200,))
            for thing in page["value"]:
                key = (thing.get("properties") or {}).get("device")
                if isinstance(key, str):
                    out[key] = (thing["@iot.id"], {d["name"]: d["@iot.id"] for d in thing["Datastreams"]})
            url = page.get("@iot.nextLink", "")
        return out

    async def _observed_property(self, f: Field) -> int:
        body = f.observed_property()
        definition = body["definition"].replace("'", "''")
        found = await self._call("GET", f"{self.sta}/ObservedProperties?$select=id&$filter="
                                 + quote(f"definition eq '{definition}'"), (200,))
        if found["value"]:
            return int(found["value"][0]["@iot.id"])
        return await self._create("ObservedProperties", body)

    async def _sensor(self, kind: str) -> int:
        label, description = _SENSORS[kind]
        return await self._create("Sensors", {"name": label, "description": description,
                                              "encodingType": "text/plain", "metadata": label})

    async def _create(self, entity_set: str, body: dict[str, Any]) -> int:
        response = await self.client.post(f"{self.sta}/{entity_set}", json=body)
        if response.status_code != 201:
            raise ProvisionError(f"POST {entity_set}: {response.status_code} {response.text[:500]}")
        return int(response.headers["location"].rsplit("(", 1)[1].rstrip(")"))

    async def _create_thing(self, device: SimDevice, observed: dict[str, int], sensor: int) -> int:
        lon, lat = self.sim.town.to_lonlat(*device.xy)
        body = {
            "name": device.name,
            "description": f"{_SENSORS[device.kind][0]}: {device.name}",
            "properties": {**device.properties, "device": device.key},
            "Locations": [{"name": device.name, "description": f"Position of {device.name}",
                           "encodingType": "application/geo+json",
                           "location": {"type": "Point", "coordinates": [round(lon, 6), round(lat, 6)]}}],
            "Datastreams": [{
                "name": f"{device.name} {f.name}",
                "description": f"{f.observed_property()['description']} at {device.name}",
                "unitOfMeasurement": f.unit_of_measurement(),
                "observationType": f.observation_type,
                "properties": _datastream_properties(device, f),
                "Sensor": {"@iot.id": sensor},
                "ObservedProperty": {"@iot.id": observed[f.observed_property()["definition"]]},
            } for f in device.fields],
        }
        return await self._create("Things", body)

    async def _datastreams_of(self, thing_id: int) -> dict[str, int]:
        page = await self._call("GET", f"{self.sta}/Things({thing_id})/Datastreams"
                                       "?$select=id,name&$top=10000", (200,))
        return {d["name"]: d["@iot.id"] for d in page["value"]}


def town_basemap(sim: SimTown) -> dict[str, dict[str, Any]]:
    """Layer name -> GeoJSON FeatureCollection of the town's districts, waters, streets
    and named places."""
    town = sim.town

    def lonlat(x: float, y: float) -> list[float]:
        lon, lat = town.to_lonlat(x, y)
        return [round(lon, 6), round(lat, 6)]

    def feature(geometry: dict[str, Any], **properties: Any) -> dict[str, Any]:
        return {"type": "Feature", "geometry": geometry, "properties": properties}

    districts = [feature({"type": "Polygon",
                          "coordinates": [[lonlat(x, y) for x, y in area.exterior.coords]]}, name=name)
                 for name, area in town.districts]
    waters = [feature({"type": "LineString", "coordinates": [lonlat(x, y) for x, y in course]},
                      name=name, kind=kind) for name, kind, course in town.waters]
    streets = [feature({"type": "LineString",
                        "coordinates": [lonlat(*town.places[p]) for p in street.places]}, name=street.name)
               for street in town.streets]
    places = [feature({"type": "Point", "coordinates": lonlat(*xy)}, name=name)
              for name, xy in town.places.items()]
    return {name: {"type": "FeatureCollection", "features": features} for name, features in
            (("districts", districts), ("waters", waters), ("streets", streets), ("places", places))}


def town_packages(sim: SimTown) -> list[dict[str, Any]]:
    """The built-in packages for the kinds of device the town has: the lamp fault rules
    watch the sun at the town's lamps, the depot geofence lies around its depot."""
    kinds = {d.kind for d in sim.devices}
    out = []
    for name in BUILT_IN:
        body = built_in(name)
        assert body is not None
        if not kinds & set(body["kinds"]):
            continue
        lamps = [sim.town.to_lonlat(*d.xy) for d in sim.devices if d.kind == "streetlight"]
        for rule in body["rules"]:
            condition = rule["condition"]
            if condition["type"] == "daylight" and lamps:
                condition["latitude"] = round(sum(p[1] for p in lamps) / len(lamps), 5)
                condition["longitude"] = round(sum(p[0] for p in lamps) / len(lamps), 5)
            if condition["type"] == "geofence" and rule["name"] == "depot":
                condition["area"] = depot_area(sim.town)
        if "lighting" in body:
            # The demo's lamps keep to the town file's switching times, not the package's.
            body["lighting"]["schedules"] = []
        out.append(body)
    return out


def demo_rules(sim: SimTown) -> list[tuple[str, dict[str, Any]]]:
    """(path, body) of the demo's rules: flood warning at every gauge, drinking-water limits,
    gauges that fall silent, vehicles that leave the town."""
    xs = [x for d in sim.devices for x in (d.xy[0],)]
    ys = [y for d in sim.devices for y in (d.xy[1],)]
    margin = 1_500.0
    corners = [sim.town.to_lonlat(x, y) for x, y in (
        (min(xs) - margin, min(ys) - margin), (max(xs) + margin, min(ys) - margin),
        (max(xs) + margin, max(ys) + margin), (min(xs) - margin, max(ys) + margin))]
    ring = [[round(lon, 5), round(lat, 5)] for lon, lat in [*corners, corners[0]]]
    kinds = {d.kind for d in sim.devices}
    wanted = {"hochwasser": "gauge", "trinkwasser-truebung": "water_works",
              "trinkwasser-chlor": "water_works", "pegel-ausfall": "gauge",
              "fuhrpark-stadtgebiet": "vehicle"}
    rules: list[tuple[str, dict[str, Any]]] = [
        ("rules/templates/flood-warning", {"name": "hochwasser", "for": "PT10M"}),
        ("rules", {"name": "trinkwasser-truebung", "severity": "severe", "category": "Health",
                   "description": "Turbidity of the drinking water above its legal limit",
                   "target": {"observedProperty": {"name": "Turbidity"}},
                   "condition": {"type": "threshold", "above": {"property": "limit"},
                                 "hysteresis": 0.1, "for": "PT10M"}}),
        ("rules", {"name": "trinkwasser-chlor", "severity": "moderate", "category": "Health",
                   "description": "Too little free chlorine in the drinking water",
                   "target": {"observedProperty": {"name": "Free chlorine"}},
                   "condition": {"type": "threshold", "below": {"property": "low"},
                                 "hysteresis": 0.02, "for": "PT15M"}}),
        ("rules", {"name": "pegel-ausfall", "severity": "moderate", "category": "Infra",
                   "description": "A water gauge has sent nothing for an hour",
                   "target": {"observedProperty": {"name": "Water level"}},
                   "condition": {"type": "stale", "after": "PT1H"}}),
        ("rules", {"name": "fuhrpark-stadtgebiet", "severity": "minor", "category": "Transport",
                   "description": "A vehicle of the town has left the town's area",
                   "target": {"things": {"kind": "vehicle"}},
                   "condition": {"type": "geofence", "when": "leave",
                                 "area": {"type": "Polygon", "coordinates": [ring]}}}),
    ]
    return [(path, body) for path, body in rules if wanted[body["name"]] in kinds]


def _profile_field(f: Field) -> dict[str, Any]:
    return {"name": f.name, "observedProperty": f.observed_property(),
            "unitOfMeasurement": f.unit_of_measurement(), "observationType": f.observation_type}


def _datastream_properties(device: SimDevice, f: Field) -> dict[str, Any]:
    """What rules and dashboards want to know: a gauge's reporting levels, a limit."""
    out: dict[str, Any] = {"field": f.key}
    if device.kind == "gauge":
        out["stages"] = device.properties.get("stages")
    limits = device.properties.get("limits", {}).get(f.key)
    if limits:
        out.update(limits)
    return out
