"""The calendar of a lighting schedule: entries that change its profile on some nights,
such as public holidays, Christmas market evenings or a town festival::

    {"name": "weihnachtsmarkt", "from": "2026-11-30", "until": "2026-12-23", "dim": null}
    {"name": "feiertage", "holidays": "DE-BY", "dim": null}
    {"name": "stadtfest", "from": "2026-07-10", "until": "2026-07-12",
     "dim": {"level": 50, "from": "01:00", "until": "05:00"}}

An entry covers single days, a range of days (``until`` included) or the public holidays
of a country or one of its states (``holidays``: "DE" or "DE-BY", from the ``holidays``
package). It replaces the schedule's ``on``, ``off`` or ``dim`` for the nights it covers;
``"dim": null`` means no dimming that night. The night of a day runs from its noon to the
next day's noon: the entry of 24 December governs the evening of the 24th and the early
hours of the 25th. Where several entries cover a night, the first in the list wins.
"""

from __future__ import annotations

import functools
import re
from datetime import date, timedelta
from typing import Any

import holidays

from quartier.errors import BadRequest, Conflict, NotFound
from quartier.model.parse import known_members
from quartier.usecases.lighting import profile

MAX_ENTRIES = 100
LONGEST = 366  # days one entry may span
CHANGES = ("on", "off", "dim")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
_REGION = re.compile(r"([A-Z]{2})(?:-([A-Z0-9]{1,3}))?")


def _day(raw: Any, what: str) -> date:
    if isinstance(raw, str) and len(raw) == 10:
        try:
            return date.fromisoformat(raw)
        except ValueError:
            pass
    raise BadRequest(f'{what} must be a date like "2026-12-24", not {raw!r}')


@functools.lru_cache(maxsize=256)
def _holidays(region: str, year: int) -> frozenset[date]:
    match = _REGION.fullmatch(region)
    assert match is not None  # checked when the entry was saved
    country, state = match.groups()
    return frozenset(holidays.country_holidays(country, subdiv=state, years=year))


def parse_entry(raw: Any, where: str = "") -> dict[str, Any]:
    """One calendar entry, checked; 400 naming the first thing wrong."""
    if not isinstance(raw, dict):
        raise BadRequest(f'{where or "a calendar entry"} is {{"name", "from", "until", '
                         '"holidays", "on", "off", "dim"}')
    known_members(raw, {"name", "from", "until", "holidays", *CHANGES}, where or "a calendar entry")
    name = raw.get("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise BadRequest(f"{where}name must be 1 to 100 letters, digits, '.', '_' or '-', "
                         f"not {name!r}")
    entry: dict[str, Any] = {"name": name}
    if ("from" in raw) == ("holidays" in raw):
        raise BadRequest(f'{where.rstrip(".") or "a calendar entry"}: give either "from" (and "until") '
                         'or "holidays"')
    if "holidays" in raw:
        region = raw["holidays"]
        match = _REGION.fullmatch(region) if isinstance(region, str) else None
        try:
            if match is None:
                raise NotImplementedError
            holidays.country_holidays(match[1], subdiv=match[2])
        except NotImplementedError:
            raise BadRequest(f'{where}holidays must name a country or state the holidays '
                             f'calendar knows, like "DE" or "DE-BY", not {region!r}') from None
        if "until" in raw:
            raise BadRequest(f'{where}until goes with "from", not with "holidays"')
        entry["holidays"] = region
    else:
        first = _day(raw["from"], f"{where}from")
        last = _day(raw.get("until", raw["from"]), f"{where}until")
        if not first <= last <= first + timedelta(days=LONGEST - 1):
            raise BadRequest(f"{where}until must be from {first} to at most {LONGEST} days later")
        entry["from"], entry["until"] = first.isoformat(), last.isoformat()
    if not any(key in raw for key in CHANGES):
        raise BadRequest(f"{where}an entry changes on, off or dim (dim: null for no dimming)")
    for kind in ("on", "off"):
        if kind in raw:
            entry[kind] = profile.switch(raw[kind], kind, where)
    if "dim" in raw:
        entry["dim"] = None if raw["dim"] is None else profile.dimming(raw["dim"], where)
    return entry


def parse_calendar(raw: Any) -> list[dict[str, Any]]:
    if not isinstance(raw, list) or len(raw) > MAX_ENTRIES:
        raise BadRequest(f"calendar must be a list of at most {MAX_ENTRIES} entries")
    entries: list[dict[str, Any]] = []
    for i, item in enumerate(raw):
        entries = add(entries, parse_entry(item, f"calendar[{i}]."))
    return entries


def add(entries: list[dict[str, Any]], entry: dict[str, Any]) -> list[dict[str, Any]]:
    """The entries with ``entry`` after them; 409 when its name is taken."""
    if any(e["name"] == entry["name"] for e in entries):
        raise Conflict(f"the calendar has an entry named {entry['name']!r} already")
    if len(entries) >= MAX_ENTRIES:
        raise BadRequest(f"a calendar holds at most {MAX_ENTRIES} entries")
    return [*entries, entry]


def remove(entries: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    kept = [e for e in entries if e["name"] != name]
    if len(kept) == len(entries):
        raise NotFound(f"no calendar entry {name!r}")
    return kept


def covers(entry: dict[str, Any], night: date) -> bool:
    if "holidays" in entry:
        return night in _holidays(entry["holidays"], night.year)
    return bool(entry["from"] <= night.isoformat() <= entry["until"])


def for_night(definition: dict[str, Any], night: date) -> dict[str, Any]:
    """The schedule's profile for the night that begins on ``night`` (local date)."""
    for entry in definition.get("calendar") or ():
        if covers(entry, night):
            changed = {**definition, **{k: entry[k] for k in CHANGES if k in entry}}
            if changed.get("dim") is None:
                changed.pop("dim", None)
            return changed
    return definition
