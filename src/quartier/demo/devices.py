"""The simulated devices of the demo town, one class per kind.

Every device yields :class:`Reading` values for a window of time, in time order, on its own
reporting grid. It draws its randomness from its own generator (seeded from the town's seed
and its key) in time order, so the same start gives the same data however the windows are
cut. A device that is silent at an instant yields nothing for it; a reading marked ``bad``
is sent garbled (the channel decides how), so that it ends up as a dead letter.
"""

from __future__ import annotations

import heapq
import math
import random
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

from quartier.demo.catalog import Field
from quartier.demo.clock import DAY, LocalClock, Silence, Sky, bell, opens_window, phase, poisson, ticks
from quartier.demo.town import XY

HOUR = 3_600.0
COMMAND_HOLDS = DAY  # how long a lamp keeps a command without another one
KEPT = 100  # readings and commands a lamp remembers (a few days: tests, reports)


@dataclass
class Reading:
    device: SimDevice
    t: float
    values: dict[str, Any]
    bad: bool = False


@dataclass
class World:
    """What all devices share: the clocks, the sky, silences and scripted events."""

    seed: int
    clock: LocalClock
    sky: Sky
    silence: Silence
    events: list[Event] = field(default_factory=list)

    def events_of(self, kind: str) -> list[Event]:
        return [e for e in self.events if e.kind == kind]


@dataclass
class Event:
    kind: str
    start: float
    end: float
    params: dict[str, Any]

    def covers(self, t: float) -> bool:
        return self.start <= t < self.end


class SimDevice:
    """A device: its Thing, its fields (Datastreams), its channel and its readings."""

    kind = "device"  # a label for reports, e.g. "streetlight"

    def __init__(self, world: World, key: str, name: str, xy: XY, channel: str,
                 fields: tuple[Field, ...], every: float,
                 properties: dict[str, Any] | None = None) -> None:
        self.world = world
        self.key = key
        self.name = name
        self.xy = xy
        self.channel = channel  # "http", "mqtt", "tts" or "chirpstack"
        self.fields = fields
        self.every = every
        self.offset = phase(key, every)
        self.properties = properties or {}
        self.rng = random.Random(f"{world.seed}:{key}")
        self.dev_eui: str | None = None  # LoRaWAN devices only
        self.profile: str | None = None
        self.bad_every: float | None = None  # a garbled message once in each such period
        self._last_bad_period: int | None = None
        self.since_faulty: float | None = None  # when a lasting fault began

    def readings(self, start: float, end: float) -> Iterator[Reading]:
        for t in ticks(start, end, self.every, self.offset):
            values = self.sample(t)
            if values is None or self.world.silence.silent(self.key, t):
                continue
            yield Reading(self, t, values, self._garbled(t))

    def sample(self, t: float) -> dict[str, Any] | None:
        """The values at a tick of the grid; None when the device sends nothing then."""
        raise NotImplementedError

    def _garbled(self, t: float) -> bool:
        if self.bad_every is None:
            return False
        period = int(t // self.bad_every)
        if period == self._last_bad_period:
            return False
        self._last_bad_period = period
        return True


def _noisy(rng: random.Random, value: float, noise: float, digits: int = 1) -> float:
    return round(value + rng.gauss(0, noise), digits)


# -- street lighting --------------------------------------------------------------------


class Cabinet(SimDevice):
    kind = "cabinet"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lamps: list[Lamp] = []

    def outage(self, t: float) -> bool:
        return any(e.covers(t) and e.params.get("cabinet") == self.key
                   for e in self.world.events_of("cabinet_outage"))

    def sample(self, t: float) -> dict[str, Any]:
        if self.outage(t):
            return {"voltage": 0.0, "load": 0.0}
        load = sum(lamp.watts * lamp.level(t) / 100 for lamp in self.lamps if lamp.scheduled_on(t)
                   and not lamp.dead(t))
        return {"voltage": _noisy(self.rng, 230.0, 1.2), "load": round(load / 1000, 3)}


class Lamp(SimDevice):
    """A luminaire: on from dusk to dawn, dimmed at night; some are dead or flicker.

    It obeys the platform's commands (:meth:`command`, from the downlinks the simulator
    receives): a commanded switch or level holds until the next command, or for
    :data:`COMMAND_HOLDS` after the last one, then the lamp's own programme takes over
    again. It answers each command at once with an uplink of its new state, as luminaire
    controllers do, so that the Task can be confirmed."""

    kind = "streetlight"

    def __init__(self, *args: Any, cabinet: Cabinet, watts: float, day_every: float,
                 dim_from: int, dim_until: int, night_level: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.cabinet = cabinet
        self.watts = watts
        self.day_every = day_every
        self.dim_from = dim_from
        self.dim_until = dim_until
        self.night_level = night_level
        self.fault: str | None = None  # "dead" or "flickering", from since_faulty
        self.energy = round(self.rng.uniform(800, 9000), 3)  # kWh on the meter
        self._last: tuple[float, float] | None = None  # (t, watts) of the last reading
        self.commanded: dict[str, Any] = {}  # "switch" and "dim" as last commanded
        self.commanded_at: float | None = None
        self._owed: list[float] = []  # instants of answers to commands, not sent yet
        # What it did, newest last (bounded: the demo may run for weeks).
        self.received: deque[tuple[float, dict[str, Any]]] = deque(maxlen=KEPT)
        self.reported: deque[tuple[float, dict[str, Any]]] = deque(maxlen=KEPT)

    def _commanded(self, t: float, key: str) -> Any:
        at = self.commanded_at
        if at is None or not at <= t < at + COMMAND_HOLDS:
            return None
        return self.commanded.get(key)

    def scheduled_on(self, t: float) -> bool:
        """Whether it means to burn: as commanded, else from dusk to dawn."""
        switch = self._commanded(t, "switch")
        return self.world.sky.dark(t) if switch is None else bool(switch == "on")

    def level(self, t: float) -> float:
        dim = self._commanded(t, "dim")
        if dim is not None:
            return float(dim)
        minute = self.world.clock.minute_of_day(t)
        if self.dim_from > self.dim_until:
            dimmed = minute >= self.dim_from or minute < self.dim_until
        else:
            dimmed = self.dim_from <= minute < self.dim_until
        return self.night_level if dimmed else 100.0

    def command(self, t: float, parameters: dict[str, Any]) -> None:
        """A command from the platform, acted on at the simulated instant ``t`` (when the
        simulation has sent everything before it) and answered with an uplink then."""
        if self.commanded_at is None or t >= self.commanded_at + COMMAND_HOLDS:
            self.commanded = {}
        self.commanded.update({k: v for k, v in parameters.items() if k in ("switch", "dim")})
        self.commanded_at = t
        self._owed.append(t)
        self.received.append((t, dict(parameters)))

    def readings(self, start: float, end: float) -> Iterator[Reading]:
        owed = sorted({t for t in self._owed if start <= t < end})
        self._owed = [t for t in self._owed if t >= end]
        for t in heapq.merge(ticks(start, end, self.every, self.offset), owed):
            values = self.sample(t, answer=t in owed)
            if values is None or self.world.silence.silent(self.key, t):
                continue
            self.reported.append((t, values))
            yield Reading(self, t, values, self._garbled(t))

    def dead(self, t: float) -> bool:
        return self.fault == "dead" and self.since_faulty is not None and t >= self.since_faulty

    def sample(self, t: float, answer: bool = False) -> dict[str, Any] | None:
        on = self.scheduled_on(t)
        if not on and not answer and not opens_window(t, self.every, self.day_every, self.offset):
            return None
        if self.cabinet.outage(t):
            self._meter(t, 0.0)
            return None
        lit = on and not self.dead(t)
        flickering = self.fault == "flickering" and self.since_faulty is not None and t >= self.since_faulty
        if lit and flickering and self.rng.random() < 0.5:
            lit = False
        level = self.level(t) if lit else 0.0
        watts = (self.watts * level / 100 * self.rng.uniform(0.97, 1.03)) if lit else 0.4
        if flickering and lit:
            watts *= self.rng.uniform(0.4, 1.3)
        self._meter(t, watts)
        return {"state": "on" if lit else "off", "dimming": level, "power": round(watts, 1),
                "energy": round(self.energy, 3)}

    def _meter(self, t: float, watts: float) -> None:
        if self._last is not None:
            last_t, last_watts = self._last
            self.energy += last_watts * (t - last_t) / HOUR / 1000
        self._last = (t, watts)


# -- water ------------------------------------------------------------------------------


class Gauge(SimDevice):
    """A water-level gauge; heavy rain sends a flood wave past it."""

    kind = "gauge"

    def __init__(self, *args: Any, mean_level: float, stages: list[float], lag: float,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.mean_level = mean_level
        self.stages = stages
        self.lag = lag

    def flood(self, t: float) -> float:
        rise = 0.0
        for event in self.world.events_of("heavy_rain"):
            length = event.end - event.start
            peak_at = event.start + length / 2 + self.lag
            stage = float(event.params.get("peak_stage", 3.4))
            index = min(int(stage), 4)
            low = self.stages[index - 1] if index >= 1 else self.mean_level
            high = self.stages[index] if index < 4 else self.stages[3] * 1.15
            peak = low + (stage - index) * (high - low)
            width = max(1.5 * HOUR, 0.35 * length)
            rise += (peak - self.mean_level) * bell(t, peak_at, width, 2.5 * width)
        return rise

    def sample(self, t: float) -> dict[str, Any]:
        wobble = 2.0 * math.sin(2 * math.pi * ((t + self.offset) % DAY) / DAY)
        return {"level": _noisy(self.rng, self.mean_level + wobble + self.flood(t), 0.5)}


class RainGauge(SimDevice):
    kind = "rain_gauge"

    def _shower(self, day: int) -> tuple[float, float, float] | None:
        rng = random.Random(f"{self.world.seed}:{self.key}:shower:{day}")
        if rng.random() > 0.25:
            return None
        start = day * DAY + rng.uniform(0, DAY)
        return start, start + rng.uniform(HOUR, 3 * HOUR), rng.uniform(0.3, 2.0)

    def sample(self, t: float) -> dict[str, Any]:
        per_hour = 0.0
        for event in self.world.events_of("heavy_rain"):
            if event.covers(t):
                x = (t - event.start) / (event.end - event.start)
                per_hour += float(event.params.get("mm_per_hour", 20)) * 2 * (1 - abs(2 * x - 1))
        day = int(t // DAY)
        for d in (day - 1, day):
            shower = self._shower(d)
            if shower is not None and shower[0] <= t < shower[1]:
                per_hour += shower[2]
        if per_hour == 0:
            return {"rain": 0.0}
        return {"rain": round(max(0.0, per_hour * self.every / HOUR * self.rng.uniform(0.85, 1.15)), 1)}


@dataclass(frozen=True)
class Parameter:
    key: str
    name: str
    unit: str
    mean: float
    noise: float
    daily: float = 0.0  # relative swing over the day (flow)
    low: float | None = None
    limit: float | None = None


class WaterWorks(SimDevice):
    kind = "water_works"

    def __init__(self, *args: Any, parameters: list[Parameter], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.parameters = parameters

    def sample(self, t: float) -> dict[str, Any]:
        hour = self.world.clock.minute_of_day(t) / 60
        out = {}
        for p in self.parameters:
            value = p.mean
            if p.daily:
                # Two demand peaks: the morning and the evening.
                value *= 1 + p.daily * (math.exp(-((hour - 7.5) / 1.5) ** 2)
                                        + 0.8 * math.exp(-((hour - 19) / 2) ** 2) - 0.45)
            for event in self.world.events_of("water_quality"):
                if event.params.get("parameter") == p.key:
                    middle = (event.start + event.end) / 2
                    width = (event.end - event.start) / 4
                    value += (float(event.params["peak"]) - p.mean) * bell(t, middle, width, width)
            digits = 3 if p.mean < 10 else 1
            out[p.key] = max(0.0, _noisy(self.rng, value, p.noise, digits))
        return out


# -- environment and traffic ------------------------------------------------------------


def traffic_level(hour: float, weekday: int, inbound: bool | None = None) -> float:
    """Relative traffic (about 1 in the rush hour of a working day)."""
    morning = math.exp(-((hour - 7.6) / 1.2) ** 2)
    evening = math.exp(-((hour - 17.0) / 1.6) ** 2)
    if inbound is True:
        evening *= 0.55
    elif inbound is False:
        morning *= 0.55
    day = 0.45 * math.exp(-((hour - 13) / 4.0) ** 2)
    night = 0.04
    level = night + day + morning + evening
    if weekday == 5:
        level = night + 0.75 * math.exp(-((hour - 12) / 3.5) ** 2)
    elif weekday == 6:
        level = night + 0.45 * math.exp(-((hour - 15) / 3.5) ** 2)
    return level


class AirQuality(SimDevice):
    kind = "air_quality"

    def __init__(self, *args: Any, station: str, winter: float, summer: float,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.traffic = station == "traffic"
        self.winter = winter
        self.summer = summer

    def _day_factor(self, day: int) -> tuple[float, float]:
        rng = random.Random(f"{self.world.seed}:weather:{day}")  # the same weather town-wide
        return rng.uniform(0.7, 1.6), rng.uniform(-3, 3)

    def sample(self, t: float) -> dict[str, Any]:
        local = self.world.clock.local(t)
        hour = local.hour + local.minute / 60
        traffic = traffic_level(hour, local.weekday())
        dust, warmth = self._day_factor(int(t // DAY))
        raining = any(e.covers(t) for e in self.world.events_of("heavy_rain"))
        season = (self.winter + self.summer) / 2 - (self.summer - self.winter) / 2 * math.cos(
            2 * math.pi * (local.timetuple().tm_yday - 15) / 365)
        temperature = season + warmth + 3.5 * math.sin(2 * math.pi * (hour - 9) / 24)
        base_no2 = 30.0 if self.traffic else 14.0
        no2 = base_no2 * (0.45 + (1.1 if self.traffic else 0.5) * traffic)
        pm10 = (12 + (9 if self.traffic else 4) * traffic) * dust * (0.5 if raining else 1)
        humidity = 97.0 if raining else 80 - 2.5 * (temperature - season - warmth)
        return {
            "no2": max(1.0, _noisy(self.rng, no2, 2.5)),
            "pm10": max(1.0, _noisy(self.rng, pm10, 1.8)),
            "pm25": max(0.5, _noisy(self.rng, pm10 * 0.62, 1.0)),
            "temperature": _noisy(self.rng, temperature, 0.3),
            "humidity": min(100.0, max(20.0, _noisy(self.rng, humidity, 2.0))),
        }


class Counter(SimDevice):
    """A counting camera: counts per direction and class, never images."""

    kind = "traffic_counter"

    def __init__(self, *args: Any, directions: list[str], classes: list[str],
                 shares: list[float], busiest: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.directions = directions
        self.classes = classes
        self.shares = shares
        self.busiest = busiest

    def sample(self, t: float) -> dict[str, Any]:
        local = self.world.clock.local(t)
        hour = local.hour + local.minute / 60
        out = {}
        for i, direction in enumerate(self.directions):
            cars = self.busiest * traffic_level(hour, local.weekday(), inbound=(i == 0))
            for name, share in zip(self.classes, self.shares, strict=True):
                out[f"{direction}.{name}"] = poisson(self.rng, cars * share)
        return out


# -- parking ----------------------------------------------------------------------------


def occupancy(kind: str, hour: float, weekday: int) -> float:
    """How full a lot of this kind is, on average, at this time."""
    working = weekday < 5
    if kind == "commuter":
        return 0.1 + (0.8 if working else 0.15) * _plateau(hour, 7, 17.5)
    if kind == "hospital":
        return 0.2 + 0.65 * _plateau(hour, 8, 19)
    if kind == "leisure":
        busy = 0.85 if not working else 0.6
        return 0.05 + busy * _plateau(hour, 16 if working else 10, 21)
    busy = 0.9 if weekday == 5 else (0.75 if working else 0.15)
    return 0.05 + busy * _plateau(hour, 9, 19)


def _plateau(hour: float, start: float, end: float) -> float:
    return 1 / (1 + math.exp(-(hour - start) * 2)) * 1 / (1 + math.exp((hour - end) * 2))


_STAY = {"shopping": 0.35, "commuter": 0.06, "hospital": 0.2, "leisure": 0.3}  # leave per step


class ParkingBay(SimDevice):
    """One bay: a car comes and goes; reported when that happens and as a heartbeat."""

    kind = "parking_bay"

    def __init__(self, *args: Any, lot_kind: str, heartbeat: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lot_kind = lot_kind
        self.heartbeat = heartbeat
        self.occupied: bool | None = None
        self.reported_at = -math.inf

    def sample(self, t: float) -> dict[str, Any] | None:
        local = self.world.clock.local(t)
        p = occupancy(self.lot_kind, local.hour + local.minute / 60, local.weekday())
        before = self.occupied
        if before is None:
            self.occupied = self.rng.random() < p
        else:
            leave = _STAY.get(self.lot_kind, 0.25)
            come = min(0.95, leave * p / max(0.02, 1 - p))
            self.occupied = (self.rng.random() >= leave) if before else (self.rng.random() < come)
        if self.occupied == before and t - self.reported_at < self.heartbeat:
            return None
        self.reported_at = t
        return {"occupied": self.occupied}


# -- fleet ------------------------------------------------------------------------------


@dataclass
class Trip:
    """One shift's drive: from the depot, round the route, back; times from its start."""

    points: list[XY]
    at: list[float]  # distance along the path of each point
    legs: list[tuple[float, float, float, float]]  # (t0, t1, d0, d1); d0 == d1: a stop
    duration: float

    def where(self, tau: float) -> tuple[float, bool]:
        """Distance along the path at ``tau`` seconds, and whether it is moving."""
        low, high = 0, len(self.legs) - 1
        while low < high:
            mid = (low + high + 1) // 2
            if self.legs[mid][0] <= tau:
                low = mid
            else:
                high = mid - 1
        t0, t1, d0, d1 = self.legs[low]
        if d0 == d1 or t1 <= t0:
            return d0, False
        f = min(1.0, max(0.0, (tau - t0) / (t1 - t0)))
        return d0 + f * (d1 - d0), True

    def point(self, distance: float) -> XY:
        low, high = 0, len(self.at) - 1
        while low < high:
            mid = (low + high + 1) // 2
            if self.at[mid] <= distance:
                low = mid
            else:
                high = mid - 1
        if low == len(self.at) - 1:
            return self.points[-1]
        (x1, y1), (x2, y2) = self.points[low], self.points[low + 1]
        span = self.at[low + 1] - self.at[low]
        f = 0.0 if span == 0 else (distance - self.at[low]) / span
        return x1 + f * (x2 - x1), y1 + f * (y2 - y1)


def plan_trip(approach: list[XY], loop: list[XY], back: list[XY], loops: int,
              speed: float, stop_seconds: float, stop_every: float | None) -> Trip:
    """The legs of a shift: stops at each place of the loop, and every ``stop_every``
    metres if given (a refuse truck emptying bins)."""
    points = list(approach)
    stops: list[float] = []
    at = [0.0]
    for a, b in pairwise(approach):
        at.append(at[-1] + math.dist(a, b))
    for _ in range(loops):
        for b in loop[1:]:
            at.append(at[-1] + math.dist(points[-1], b))
            points.append(b)
            stops.append(at[-1])
    for b in back[1:]:
        at.append(at[-1] + math.dist(points[-1], b))
        points.append(b)
    total = at[-1]
    if stop_every:
        start, end = at[len(approach) - 1], total - sum(
            math.dist(a, b) for a, b in pairwise(back))
        d = start + stop_every
        while d < end:
            stops.append(d)
            d += stop_every
    stops = sorted(set(round(s, 3) for s in stops if 0 < s < total))
    legs: list[tuple[float, float, float, float]] = []
    t, d = 0.0, 0.0
    for s in [*stops, total]:
        drive = (s - d) / speed
        legs.append((t, t + drive, d, s))
        t += drive
        d = s
        if s < total:
            legs.append((t, t + stop_seconds, s, s))
            t += stop_seconds
    return Trip(points, at, legs, t)


_WEEKDAYS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}


def shift_days(spec: str) -> set[int]:
    """ "mon-fri", "sat", "daily" -> weekday numbers; ValueError when unknown."""
    if spec == "daily":
        return set(range(7))
    if "-" in spec:
        first, last = spec.split("-", 1)
        return set(range(_WEEKDAYS[first], _WEEKDAYS[last] + 1))
    return {_WEEKDAYS[spec]}


class Vehicle(SimDevice):
    """A vehicle driving its route on the streets in its shifts, else at the depot."""

    kind = "vehicle"

    def __init__(self, *args: Any, to_lonlat: Any, depot: XY, approach: list[XY],
                 loop: list[XY], back: list[XY], shifts: dict[int, tuple[int, int]],
                 delay: float, speed_kmh: float, stop_seconds: float, stop_every: float | None,
                 energy: str, percent_per_km: float, idle_every: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.to_lonlat = to_lonlat
        self.depot = depot
        self.shifts = shifts
        self.delay = delay
        self.speed = speed_kmh / 3.6
        self.energy = energy
        self.percent_per_km = percent_per_km
        self.idle_every = idle_every
        self.idle_offset = phase(self.key + ":idle", idle_every)
        self._route = (approach, loop, back, stop_seconds, stop_every)
        self._trips: dict[float, Trip | None] = {}

    def _trip_of_day(self, midnight: float) -> Trip | None:
        if midnight not in self._trips:
            weekday = self.world.clock.local(midnight + 6 * HOUR).weekday()
            if weekday not in self.shifts:
                self._trips[midnight] = None
            else:
                begin, end = self.shifts[weekday]
                approach, loop, back, stop_seconds, stop_every = self._route
                one = plan_trip(approach, loop, back, 1, self.speed, stop_seconds, stop_every)
                bare = plan_trip(approach, loop[:1], back, 0, self.speed, stop_seconds, None)
                per_loop = max(1.0, one.duration - bare.duration)
                room = (end - begin) * 60 - self.delay - bare.duration
                loops = max(1, int(room // per_loop))
                self._trips[midnight] = plan_trip(approach, loop, back, loops, self.speed,
                                                  stop_seconds, stop_every)
            if len(self._trips) > 64:
                self._trips.pop(next(iter(self._trips)))
        return self._trips[midnight]

    def _shift_start(self, midnight: float) -> float:
        weekday = self.world.clock.local(midnight + 6 * HOUR).weekday()
        # Local clock minutes after local midnight (the zone's offset is in ``midnight``).
        return midnight + self.shifts[weekday][0] * 60 + self.delay

    def readings(self, start: float, end: float) -> Iterator[Reading]:
        for t in ticks(start, end, self.every, self.offset):
            midnight = self.world.clock.midnight(t)
            trip = self._trip_of_day(midnight)
            tau = t - self._shift_start(midnight) if trip is not None else -1.0
            if trip is None or not 0 <= tau < trip.duration:
                if not opens_window(t, self.every, self.idle_every, self.idle_offset):
                    continue
                values = self._report(t, self.depot, 0.0, "depot", 0.0, midnight)
            else:
                distance, moving = trip.where(tau)
                x, y = trip.point(distance)
                speed = self.speed * 3.6 * self.rng.uniform(0.85, 1.1) if moving else 0.0
                values = self._report(t, (x, y), speed, "driving" if moving else "stopped",
                                      distance, midnight)
            if self.world.silence.silent(self.key, t):
                continue
            yield Reading(self, t, values, self._garbled(t))

    def _report(self, t: float, xy: XY, speed: float, state: str, distance: float,
                midnight: float) -> dict[str, Any]:
        # GPS scatter of a few metres; the track stays on the street.
        x = xy[0] + max(-4.0, min(4.0, self.rng.gauss(0, 1.5)))
        y = xy[1] + max(-4.0, min(4.0, self.rng.gauss(0, 1.5)))
        lon, lat = self.to_lonlat(x, y)
        full = random.Random(f"{self.world.seed}:{self.key}:fill:{int(midnight)}").uniform(92, 100)
        level = max(5.0, full - self.percent_per_km * distance / 1000)
        return {"latitude": round(lat, 6), "longitude": round(lon, 6), "speed": round(speed, 1),
                self.energy: round(level, 1), "state": state}


class Stranger(SimDevice):
    """A device nobody registered that keeps sending to the town's application."""

    kind = "unknown_device"

    def sample(self, t: float) -> dict[str, Any]:
        return {"temperature": _noisy(self.rng, 4.0, 2.0)}

