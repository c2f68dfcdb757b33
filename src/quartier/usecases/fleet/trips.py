"""A vehicle's trips, from its operating state (the ignition's stand-in) and its positions.

A trip begins with the first ``driving`` report after the vehicle was not on a trip. Its
``stopped`` reports are idle time within it (each holds until the next report, at most
:data:`~quartier.usecases.fleet.day.HOLD`, as in the fleet's day). A trip ends

* at its last report before the vehicle reports ``depot`` (or any state that is neither
  driving nor stopped): a tracker at rest reports seldom, so its first report at the depot
  says only that the trip is over;
* when it stops for :data:`LONG_STOP` or longer (a break, a job): the trip ends where the
  stop began, and the stop is not part of it. A stop is ``stopped`` reports at one place:
  a ``stopped`` report more than :data:`SAME_PLACE` metres from where the stop began (a
  refuse truck going from bin to bin, its tracker catching it at each) begins a new one;
* when the tracker falls silent for longer than ``HOLD``: at its last report.

A trip's distance is the great-circle length of the positions reported from its start to
its end; its places are the first and the last of them. A day's trips are those that begin
in it, followed up to :data:`TAIL` past the day's end.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from quartier.model.times import format_instant
from quartier.store import Store
from quartier.usecases.fleet.day import DRIVING, HOLD, IDLE, VEHICLE, state_seconds
from quartier.usecases.fleet.tracks import Point, length_km, pair_positions
from quartier.usecases.members import members, values_between
from quartier.usecases.periods import Period

LONG_STOP = timedelta(minutes=30)
SAME_PLACE = 100.0  # metres
TAIL = timedelta(hours=12)


@dataclass
class Trip:
    start: datetime
    end: datetime
    idle: float = 0.0  # seconds stopped within the trip
    distance: float = 0.0  # km
    start_place: list[float] | None = None  # [lon, lat]
    end_place: list[float] | None = None

    @property
    def duration(self) -> float:
        return (self.end - self.start).total_seconds()

    def json(self) -> dict[str, Any]:
        return {"start": format_instant(self.start), "end": format_instant(self.end),
                "duration": round(self.duration), "idle": round(self.idle),
                "driving": round(self.duration - self.idle), "distance": round(self.distance, 3),
                "startPlace": self.start_place, "endPlace": self.end_place}


def _category(state: Any) -> str:
    key = str(state).strip().lower()
    return "driving" if key in DRIVING else "stopped" if key in IDLE else "other"


def _spans(states: list[tuple[datetime, Any]], points: list[Point]) -> list[tuple[datetime, datetime]]:
    """The [start, end) of each trip in ``states`` (in time order), by the rules above."""
    places = {when: (lon, lat, when) for lon, lat, when in points}

    def elsewhere(a: datetime, b: datetime) -> bool:
        one, other = places.get(a), places.get(b)
        return one is not None and other is not None and length_km([one, other]) * 1000 > SAME_PLACE

    out: list[tuple[datetime, datetime]] = []
    start: datetime | None = None
    last: datetime | None = None  # the trip's last report so far
    stop: datetime | None = None  # the first report of the stop it is in
    for when, state in states:
        kind = _category(state)
        if start is not None and last is not None and when - last > HOLD:
            out.append((start, last))  # silent: over at its last report
            start = stop = None
        if start is not None and stop is not None and when - stop >= LONG_STOP:
            out.append((start, stop))  # a long stop: over where it stopped
            start = stop = None
        if kind == "driving":
            if start is None:
                start = when
            last, stop = when, None
        elif kind == "stopped" and start is not None:
            last, stop = when, when if stop is None or elsewhere(stop, when) else stop
        elif start is not None and last is not None:
            out.append((start, last))
            start = stop = None
    if start is not None and last is not None:
        out.append((start, stop) if stop is not None and last - stop >= LONG_STOP else (start, last))
    return out


def detect_trips(states: list[tuple[datetime, Any]], points: list[Point]) -> list[Trip]:
    """The trips of one vehicle: ``states`` and ``points`` (lon, lat, time) in time order."""
    trips = []
    for start, end in _spans(states, points):
        seconds = state_seconds(states, start, end)
        track = [p for p in points if start <= p[2] <= end]
        trips.append(Trip(start, end, sum(s for k, s in seconds.items() if k in IDLE),
                          length_km(track),
                          [track[0][0], track[0][1]] if track else None,
                          [track[-1][0], track[-1][1]] if track else None))
    return trips


async def fleet_trips(store: Store, tenant_id: int, day: Period,
                      vehicle: int | None = None) -> list[dict[str, Any]]:
    """Per vehicle (or the one with id ``vehicle``) its trips that begin on ``day``."""
    vehicles = [v for v in await members(store, tenant_id, VEHICLE) if vehicle in (None, v.id)]
    fields = ("state", "latitude", "longitude")
    wanted = [v.datastreams[f] for v in vehicles for f in fields if f in v.datastreams]
    # A trip begun on the day may run past midnight, and one begun the evening before
    # must be told apart from a new one.
    values = await values_between(store, wanted, day.start - HOLD, day.end + TAIL)
    out = []
    for member in vehicles:
        def series(key: str, member: Any = member) -> list[tuple[datetime, Any]]:
            return values.get(member.datastreams.get(key, -1), [])

        points = pair_positions(series("latitude"), series("longitude"))
        trips = [t for t in detect_trips(series("state"), points) if day.start <= t.start < day.end]
        out.append({"id": member.id, "name": member.name, "trips": [t.json() for t in trips]})
    return out
