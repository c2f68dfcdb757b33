"""From a town file to its simulated devices.

:func:`build_town` places the luminaires along their streets, the parking bays in their
rows, plans each vehicle's route on the street graph, and turns the scripted events and
faults into instants around ``anchor`` (the start of the live run). With ``scale`` above 1
the town is repeated as neighbouring copies a few kilometres apart, each with its own
devices, for load tests.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from typing import Any

from quartier.demo import catalog
from quartier.demo.clock import LocalClock, Silence, Sky
from quartier.demo.devices import (
    AirQuality,
    Cabinet,
    Counter,
    Event,
    Gauge,
    Lamp,
    Parameter,
    ParkingBay,
    RainGauge,
    SimDevice,
    Stranger,
    Vehicle,
    WaterWorks,
    World,
    shift_days,
)
from quartier.demo.town import XY, Section, Town, along

_EVENT_KINDS = {"heavy_rain", "water_quality", "cabinet_outage"}
_FAULT_KINDS = {"dead_lamp", "flickering_lamp", "bad_payload", "unknown_device"}
_KIND_CODES = {"streetlight": 1, "cabinet": 2, "parking_bay": 3, "vehicle": 4, "unknown_device": 0xF}
COPY_SPACING = (6_000.0, 5_000.0)  # metres east and north between copies of the town


def _date(section: Section, key: str, default: str) -> str:
    """A date ("2019-04-01", or a TOML date) of the town file as an ISO 8601 instant."""
    value = str(section.raw(key, default))
    try:
        return date.fromisoformat(value).isoformat() + "T00:00:00Z"
    except ValueError:
        raise section.fail(key, f'must be a date like "2019-04-01", not {value!r}') from None


def lamp_inventory(lighting: Section, circuit: Section, cabinet: str, number: int,
                   watts: float) -> dict[str, Any]:
    """A lamp's inventory as Thing properties, by the names of the Smart Data Models
    ``Streetlight`` (and ``StreetlightModel`` for ``lampTechnology``); ``ratedPower`` (W)
    is Quartier's own. A circuit may override the ``[lighting]`` defaults."""

    def pick(key: str) -> Section:
        return circuit if circuit.has(key) else lighting

    return {
        "ratedPower": watts,
        "lampTechnology": pick("lamp_technology").text("lamp_technology", "LED"),
        "laternHeight": pick("lantern_height").number("lantern_height", 6.0, low=1, high=30),
        "dateServiceStarted": _date(pick("service_started"), "service_started", "2015-01-01"),
        "dateLastLampChange": _date(pick("last_lamp_change"), "last_lamp_change", "2015-01-01"),
        "refStreetlightGroup": f"{cabinet}-{number}",
        "refStreetlightControlCabinet": cabinet,
        "controllingMethod": "individual",
        "locationCategory": "road",
    }


@dataclass
class SimTown:
    town: Town
    world: World
    devices: list[SimDevice]  # every registered device, copies included
    strangers: list[SimDevice]  # unregistered senders (their messages become dead letters)
    anchor: float
    copies: int

    def of_kind(self, kind: str) -> list[SimDevice]:
        return [d for d in self.devices if d.kind == kind]

    def device(self, key: str) -> SimDevice:
        return next(d for d in self.devices if d.key == key)


def build_town(town: Town, anchor: float, scale: int = 1, mqtt: bool = False) -> SimTown:
    """The simulated devices of ``scale`` copies of ``town``; the MQTT devices fall back to
    HTTP when ``mqtt`` is false (no broker)."""
    root = town.root
    silence = root.table("silence") if root.has("silence") else Section({}, "silence", town.source)
    lighting = root.table("lighting")
    lon0, lat0 = town.origin
    world = World(
        seed=town.seed, clock=LocalClock(town.timezone),
        sky=Sky(lon0, lat0, lighting.number("switch_elevation", -3.0, -18, 5)),
        silence=Silence(town.seed, silence.number("chance_per_day", 0.0, 0, 1),
                        silence.seconds("shortest", "1h"), silence.seconds("longest", "6h")),
        events=_events(root, anchor),
    )
    devices: list[SimDevice] = []
    strangers: list[SimDevice] = []
    for copy in range(scale):
        builder = _Builder(town, world, copy, mqtt)
        devices += builder.everything()
        strangers += builder.strangers()
    keys = {d.key for d in devices}
    _apply_faults(root, devices, keys, anchor)
    cabinets = {d.key for d in devices if d.kind == "cabinet"}
    for event in world.events_of("cabinet_outage"):
        if event.params["cabinet"] not in cabinets:
            raise Section(event.params, "events", town.source).fail(
                "cabinet", f"no cabinet {event.params['cabinet']!r} in [lighting]")
    return SimTown(town, world, devices, strangers, anchor, scale)


def _events(root: Section, anchor: float) -> list[Event]:
    events = []
    for item in root.tables("events", []):
        kind = item.text("kind")
        if kind not in _EVENT_KINDS:
            raise item.fail("kind", f"{kind!r} is no event kind ({', '.join(sorted(_EVENT_KINDS))})")
        start = anchor + item.seconds("starts", signed=True)
        length = item.seconds("duration")
        params = {k: v for k, v in item.data.items() if k not in ("kind", "starts", "duration")}
        if kind == "water_quality":
            item.text("parameter")
            item.number("peak")
        if kind == "heavy_rain":
            item.number("peak_stage", 3.4, 0, 4.9)
            item.number("mm_per_hour", 20, 0, 300)
        if kind == "cabinet_outage":
            item.text("cabinet")
        events.append(Event(kind, start, start + length, params))
    return events


def _apply_faults(root: Section, devices: list[SimDevice], keys: set[str], anchor: float) -> None:
    by_base: dict[str, list[SimDevice]] = {}
    for device in devices:
        by_base.setdefault(device.key.split("@")[0], []).append(device)
    for item in root.tables("faults", []):
        kind = item.text("kind")
        if kind not in _FAULT_KINDS:
            raise item.fail("kind", f"{kind!r} is no fault kind ({', '.join(sorted(_FAULT_KINDS))})")
        if kind == "unknown_device":
            continue
        key = item.text("lamp" if kind.endswith("_lamp") else "device")
        targets = by_base.get(key)
        if not targets:
            raise item.fail("lamp" if kind.endswith("_lamp") else "device",
                            f"no device {key!r} in the town (lamps are named like SK-01-07)")
        for device in targets:
            if kind == "bad_payload":
                device.bad_every = item.seconds("every", "1h")
            elif isinstance(device, Lamp):
                device.fault = "dead" if kind == "dead_lamp" else "flickering"
                device.since_faulty = anchor + item.seconds("since", "-1d", signed=True)
            else:
                raise item.fail("lamp", f"{key!r} is no luminaire")


class _Builder:
    """The devices of one copy of the town."""

    def __init__(self, town: Town, world: World, copy: int, mqtt: bool) -> None:
        self.town = town
        self.world = world
        self.copy = copy
        self.mqtt = mqtt
        self.shift = ((copy % 10) * COPY_SPACING[0], (copy // 10) * COPY_SPACING[1])
        self.numbers: dict[str, int] = {}

    # -- naming -----------------------------------------------------------------------

    def key(self, base: str) -> str:
        return base if self.copy == 0 else f"{base}@{self.copy + 1}"

    def name(self, base: str) -> str:
        return base if self.copy == 0 else f"{base} ({self.town.name} {self.copy + 1})"

    def xy(self, xy: XY) -> XY:
        return xy[0] + self.shift[0], xy[1] + self.shift[1]

    def lonlat(self, x: float, y: float) -> tuple[float, float]:
        return self.town.to_lonlat(x, y)

    def eui(self, kind: str) -> str:
        number = self.numbers.get(kind, 0)
        self.numbers[kind] = number + 1
        return f"{self.town.dev_eui_prefix}{self.copy:03X}{_KIND_CODES[kind]:X}{number:04X}"

    def properties(self, kind: str, xy: XY, **more: Any) -> dict[str, Any]:
        district = self.town.district((xy[0] - self.shift[0], xy[1] - self.shift[1]))
        town = self.town.name if self.copy == 0 else f"{self.town.name} {self.copy + 1}"
        out: dict[str, Any] = {"town": town, "kind": kind}
        if district:
            out["district"] = district
        return {**out, **more}

    def lorawan(self, device: SimDevice, kind: str, profile: str) -> SimDevice:
        device.dev_eui = self.eui(kind)
        device.profile = profile
        return device

    def channel(self, wanted: str) -> str:
        return "http" if wanted == "mqtt" and not self.mqtt else wanted

    # -- kinds ------------------------------------------------------------------------

    def everything(self) -> list[SimDevice]:
        root = self.town.root
        out: list[SimDevice] = []
        out += self.lighting(root.table("lighting"))
        if root.has("water"):
            out += self.water(root.table("water"))
        if root.has("environment"):
            out += self.environment(root.table("environment"))
        if root.has("traffic"):
            out += self.traffic(root.table("traffic"))
        if root.has("parking"):
            out += self.parking(root.table("parking"))
        if root.has("fleet"):
            out += self.fleet(root.table("fleet"))
        return out

    def lighting(self, section: Section) -> list[SimDevice]:
        network = section.text("network", "tts")
        every = section.seconds("interval", "1h")
        day_every = section.seconds("day_interval", "6h")
        if day_every % every:
            raise section.fail("day_interval", "must be a whole multiple of interval")
        common: dict[str, Any] = {"day_every": day_every, "dim_from": section.clock("dim_from"),
                  "dim_until": section.clock("dim_until"),
                  "night_level": section.number("night_level", 50, 0, 100)}
        out: list[SimDevice] = []
        for item in section.tables("cabinets"):
            cabinet_id = item.text("id")
            xy = self.xy(self.town.position(item))
            cabinet = Cabinet(self.world, self.key(cabinet_id), self.name(item.text("name")), xy,
                              network, catalog.CABINET, section.seconds("cabinet_interval", "15min"),
                              self.properties("cabinet", xy, cabinet=cabinet_id))
            out.append(self.lorawan(cabinet, "cabinet", "demo-cabinet"))
            number = 0
            for c, raw in enumerate(item.raw("circuits")):
                circuit = Section(raw, f"{item.where}.circuits[{c}]", item.source)
                spacing = circuit.number("spacing", low=5, high=500)
                watts = circuit.number("watts", low=1, high=1000)
                inventory = lamp_inventory(section, circuit, cabinet_id, c + 1, watts)
                for street in circuit.strings("streets"):
                    path = self.town.street_path(street, circuit, "streets")
                    for point in along(path, spacing, spacing / 2):
                        number += 1
                        lamp_id = f"{cabinet_id}-{number:02d}"
                        lamp_xy = self.xy(point)
                        lamp = Lamp(self.world, self.key(lamp_id), self.name(f"Leuchte {lamp_id}"),
                                    lamp_xy, network, catalog.STREETLIGHT, every,
                                    self.properties("streetlight", lamp_xy, cabinet=cabinet_id,
                                                    circuit=c + 1, street=street, **inventory),
                                    cabinet=cabinet, watts=watts,
                                    **common)
                        cabinet.lamps.append(lamp)
                        out.append(self.lorawan(lamp, "streetlight", "demo-streetlight"))
        return out

    def water(self, section: Section) -> list[SimDevice]:
        every = section.seconds("interval", "15min")
        out: list[SimDevice] = []
        for item in section.tables("gauges", []):
            xy = self.xy(self.town.position(item))
            stages = item.raw("stages")
            if (not isinstance(stages, list) or len(stages) != 4
                    or not all(isinstance(s, int | float) for s in stages) or stages != sorted(stages)):
                raise item.fail("stages", "must be the four reporting levels in cm, rising")
            water = item.text("water")
            out.append(Gauge(self.world, self.key(item.text("id")), self.name(item.text("name")), xy,
                             "http", catalog.GAUGE, every,
                             self.properties("gauge", xy, water=water, gauge=item.text("id"),
                                             stages={str(i + 1): s for i, s in enumerate(stages)}),
                             mean_level=item.number("mean_level"), stages=[float(s) for s in stages],
                             lag=item.seconds("lag", "2h")))
        for item in section.tables("rain_gauges", []):
            xy = self.xy(self.town.position(item))
            out.append(RainGauge(self.world, self.key(item.text("id")), self.name(item.text("name")),
                                 xy, "http", catalog.RAIN_GAUGE, every,
                                 self.properties("rain_gauge", xy)))
        if section.has("works"):
            works = section.table("works")
            parameters = []
            for i, raw in enumerate(works.raw("parameters")):
                p = Section(raw, f"{works.where}.parameters[{i}]", works.source)
                parameters.append(Parameter(
                    p.text("key"), p.text("name"), p.text("unit"), p.number("mean"),
                    p.number("noise", 0.0, 0), p.number("daily", 0.0, 0, 1),
                    p.number("low") if p.has("low") else None,
                    p.number("limit") if p.has("limit") else None))
            xy = self.xy(self.town.position(works))
            fields = catalog.water_works_fields([(p.key, p.name, p.unit) for p in parameters])
            limits = {p.key: {k: v for k, v in (("low", p.low), ("limit", p.limit)) if v is not None}
                      for p in parameters}
            out.append(WaterWorks(self.world, self.key(works.text("id")), self.name(works.text("name")),
                                  xy, self.channel("mqtt"), fields, works.seconds("interval", "5min"),
                                  self.properties("water_works", xy, limits=limits),
                                  parameters=parameters))
        return out

    def environment(self, section: Section) -> list[SimDevice]:
        every = section.seconds("interval", "10min")
        winter = section.number("winter_temperature", 2.0)
        summer = section.number("summer_temperature", 18.0)
        out: list[SimDevice] = []
        for item in section.tables("air_quality", []):
            xy = self.xy(self.town.position(item))
            station = item.text("kind", "background")
            if station not in ("traffic", "background"):
                raise item.fail("kind", "must be traffic or background")
            out.append(AirQuality(self.world, self.key(item.text("id")), self.name(item.text("name")),
                                  xy, self.channel("mqtt"), catalog.AIR_QUALITY, every,
                                  self.properties("air_quality", xy, station=station),
                                  station=station, winter=winter, summer=summer))
        return out

    def traffic(self, section: Section) -> list[SimDevice]:
        every = section.seconds("interval", "15min")
        classes = section.strings("classes")
        shares = section.raw("shares")
        if not isinstance(shares, list) or len(shares) != len(classes):
            raise section.fail("shares", "must give one share per class")
        out: list[SimDevice] = []
        for item in section.tables("counters", []):
            xy = self.xy(self.town.position(item))
            directions = item.strings("directions")
            out.append(Counter(self.world, self.key(item.text("id")), self.name(item.text("name")),
                               xy, "http", catalog.counter_fields(directions, classes), every,
                               self.properties("traffic_counter", xy),
                               directions=directions, classes=classes,
                               shares=[float(s) for s in shares],
                               busiest=item.number("busiest", low=0)))
        return out

    def parking(self, section: Section) -> list[SimDevice]:
        network = section.text("network", "chirpstack")
        step = section.seconds("step", "15min")
        heartbeat = section.seconds("heartbeat", "12h")
        out: list[SimDevice] = []
        for item in section.tables("lots", []):
            lot = item.text("id")
            start = self.town.position(item)
            bearing = math.radians(item.number("bearing", 90))
            gap = item.number("gap", 2.6, 1, 50)
            kind = item.text("kind", "shopping")
            for n in range(int(item.number("bays", low=1, high=5000))):
                xy = self.xy((start[0] + math.sin(bearing) * gap * n,
                              start[1] + math.cos(bearing) * gap * n))
                bay_id = f"{lot}-{n + 1:02d}"
                bay = ParkingBay(self.world, self.key(bay_id),
                                 self.name(f"Stellplatz {bay_id}"), xy, network,
                                 catalog.PARKING_BAY, step,
                                 self.properties("parking_bay", xy, lot=lot,
                                                 lot_name=item.text("name")),
                                 lot_kind=kind, heartbeat=heartbeat)
                out.append(self.lorawan(bay, "parking_bay", "demo-parking-bay"))
        return out

    def fleet(self, section: Section) -> list[SimDevice]:
        network = section.text("network", "tts")
        depot_name = section.text("depot")
        if depot_name not in self.town.places:
            raise section.fail("depot", f"no place named {depot_name!r}")
        depot = self.town.places[depot_name]
        every = section.seconds("interval", "1min")
        idle = section.seconds("idle_interval", "30min")
        kinds = section.table("kinds")
        routes: dict[str, list[str]] = {}
        for item in section.tables("routes"):
            routes[item.text("name")] = item.strings("through")
        out: list[SimDevice] = []
        for item in section.tables("vehicles"):
            kind_name = item.text("kind")
            if kind_name not in kinds.data:
                raise item.fail("kind", f"no kind {kind_name!r} in [fleet.kinds]")
            kind = kinds.table(kind_name)
            route_name = item.text("route")
            if route_name not in routes:
                raise item.fail("route", f"no route named {route_name!r} in [[fleet.routes]]")
            through = routes[route_name]
            if through[-1] != through[0]:
                through = [*through, through[0]]
            loop = [self.xy(p) for p in self.town.route(through, item, "route")]
            approach = [self.xy(p) for p in self.town.route([depot_name, through[0]], item, "route")]
            back = [self.xy(p) for p in self.town.route([through[0], depot_name], item, "route")]
            energy = kind.text("energy", "fuel")
            if energy not in ("fuel", "charge"):
                raise kind.fail("energy", "must be fuel or charge")
            xy = self.xy(depot)
            stop_every = kind.number("stop_every", low=10) if kind.has("stop_every") else None
            vehicle = Vehicle(
                self.world, self.key(item.text("id")), self.name(item.text("name")), xy, network,
                catalog.vehicle_fields(energy), every,
                self.properties("vehicle", xy, vehicle=kind_name, label=kind.text("label", kind_name),
                                route=route_name),
                to_lonlat=self.lonlat, depot=xy, approach=approach, loop=loop, back=back,
                shifts=_shifts(kind), delay=item.seconds("delay", "0s"),
                speed_kmh=kind.number("speed_kmh", low=1, high=130),
                stop_seconds=kind.number("stop_seconds", 30, 0), stop_every=stop_every,
                energy=energy, percent_per_km=kind.number("percent_per_km", 0.5, 0), idle_every=idle)
            out.append(self.lorawan(vehicle, "vehicle", f"demo-vehicle-{energy}"))
        return out

    def strangers(self) -> list[SimDevice]:
        out: list[SimDevice] = []
        for item in self.town.root.tables("faults", []):
            if item.raw("kind", None) != "unknown_device":
                continue
            network = item.text("network", "tts")
            if network not in ("tts", "chirpstack"):
                raise item.fail("network", "must be tts or chirpstack")
            stranger = Stranger(self.world, self.key(f"stranger-{len(out) + 1}"),
                                "unregistered device", self.xy((0.0, 0.0)), network, (),
                                item.seconds("every", "2h"))
            stranger.dev_eui = (item.text("dev_eui") if self.copy == 0 else self.eui("unknown_device"))
            out.append(stranger)
        return out


def _shifts(kind: Section) -> dict[int, tuple[int, int]]:
    raw = kind.raw("shifts")
    if not isinstance(raw, dict):
        raise kind.fail("shifts", 'must be a table like { "mon-fri" = "06:00-14:00" }')
    out: dict[int, tuple[int, int]] = {}
    for days, hours in raw.items():
        try:
            weekdays = shift_days(days)
        except (KeyError, ValueError):
            raise kind.fail("shifts", f'{days!r} is no day or range like "mon-fri", "sat", "daily"') from None
        pair = Section({"from": hours.split("-")[0] if isinstance(hours, str) else hours,
                        "until": hours.split("-")[-1] if isinstance(hours, str) else hours},
                       f"{kind.where}.shifts.{days}", kind.source)
        begin, end = pair.clock("from"), pair.clock("until")
        if end <= begin:
            raise kind.fail("shifts", f"{hours!r}: a shift ends after it begins, on the same day")
        for day in weekdays:
            out[day] = (begin, end)
    return out

