"""The astronomical clock of a lighting schedule: when a lamp at a place switches on and
off (sunset and sunrise there, with offsets) and dims (a local night profile).

A schedule's definition (checked by :func:`schedules.parse_schedule`)::

    {"on": {"offset": 10}, "off": {"offset": -10},        # minutes after sunset / sunrise
     "dim": {"level": 50, "from": "23:00", "until": "05:00"},
     "timezone": "Europe/Berlin"}

Where the sun neither rises nor sets on a day (far north), that day has no switching
events, and the lamp keeps the state of the last one.

Its calendar (:mod:`calendar`) may change the profile for some nights. A night runs from
noon to noon: the sunset and the clock times from noon on belong to the night that begins
that day; the sunrise and the clock times before noon to the night that ends that morning.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from astral import Observer
from astral.sun import sunrise, sunset

from quartier.usecases.lighting.calendar import for_night

NOON = 12 * 60  # minutes: where one night's profile hands over to the next one's


@dataclass(frozen=True)
class Event:
    kind: str  # on, off, dim, undim
    at: datetime  # UTC

    @property
    def switches(self) -> bool:
        return self.kind in ("on", "off")


def _minutes(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def _local(day: date, minutes: int, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(minutes // 60, minutes % 60), zone).astimezone(UTC)


def day_events(definition: dict[str, Any], lonlat: tuple[float, float], day: date) -> list[Event]:
    """The events of one local day, in time order."""
    zone = ZoneInfo(definition.get("timezone", "UTC"))
    observer = Observer(latitude=lonlat[1], longitude=lonlat[0])
    ending = for_night(definition, day - timedelta(days=1))  # the night this morning ends
    beginning = for_night(definition, day)
    out = []
    for kind, sun, profile in (("off", sunrise, ending), ("on", sunset, beginning)):
        try:
            at = sun(observer, date=day, tzinfo=zone).astimezone(UTC)
        except ValueError:  # no sunrise or sunset that day
            continue
        out.append(Event(kind, at + timedelta(minutes=profile.get(kind, {}).get("offset", 0))))
    for profile, morning in ((ending, True), (beginning, False)):
        dim = profile.get("dim")
        for kind, key in (("dim", "from"), ("undim", "until")):
            if dim and (_minutes(dim[key]) < NOON) == morning:
                out.append(Event(kind, _local(day, _minutes(dim[key]), zone)))
    return sorted(out, key=lambda e: e.at)


def events(definition: dict[str, Any], lonlat: tuple[float, float], start: datetime,
           end: datetime) -> list[Event]:
    """The events in [start, end), in time order."""
    zone = ZoneInfo(definition.get("timezone", "UTC"))
    day = start.astimezone(zone).date() - timedelta(days=1)
    out: list[Event] = []
    while day <= end.astimezone(zone).date() + timedelta(days=1):
        out += [e for e in day_events(definition, lonlat, day) if start <= e.at < end]
        day += timedelta(days=1)
    return sorted(out, key=lambda e: e.at)


def dim_level(definition: dict[str, Any], at: datetime) -> int:
    """The light level (percent) the profile asks for at ``at`` while lit."""
    zone = ZoneInfo(definition.get("timezone", "UTC"))
    local = at.astimezone(zone)
    now = local.hour * 60 + local.minute
    night = local.date() - timedelta(days=0 if now >= NOON else 1)
    dim = for_night(definition, night).get("dim")
    if not dim:
        return 100
    start, end = _minutes(dim["from"]), _minutes(dim["until"])
    inside = start <= now < end if start < end else (now >= start or now < end)
    return int(dim["level"]) if inside else 100


def expected(definition: dict[str, Any], lonlat: tuple[float, float], at: datetime
             ) -> tuple[bool, datetime | None]:
    """Whether a lamp should burn at ``at``, and since when (the last switching event;
    None when none was found within four days)."""
    past = [e for e in events(definition, lonlat, at - timedelta(days=4), at + timedelta(seconds=1))
            if e.switches]
    if not past:
        return False, None
    return past[-1].kind == "on", past[-1].at


def parameters(definition: dict[str, Any], event: Event) -> dict[str, Any]:
    """The Task parameters of an event, as a lighting command takes them."""
    if event.kind == "off":
        return {"switch": "off"}
    if event.kind == "on":
        return {"switch": "on", "dim": dim_level(definition, event.at)}
    return {"dim": dim_level(definition, event.at)}
