"""Lighting schedules: an astronomical clock and a night dimming profile for the lamps of
a target, turned into Tasks at the switching times, and a compliance check.

    {"name": "nacht", "target": {"district": "Altstadt"},
     "on": {"offset": 10}, "off": {"offset": -10},
     "dim": {"level": 50, "from": "23:00", "until": "05:00"},
     "timezone": "Europe/Berlin", "grace": 15}

:func:`run_due` (every minute in each worker) sends each event that came due within the
last :data:`CATCH_UP` as a lighting command (one Task per lamp, through
:mod:`commands`); each lamp's event is claimed in ``lighting_schedule_runs`` in the
transaction that makes its Task, so it goes out once even with several workers, and a
process that dies before the commit leaves it to the next minute's run. Dimming events
go to lamps that should burn then.
:func:`compliance` lists the lamps whose latest reported state disagrees with the
schedule more than ``grace`` minutes after its last switching event.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from quartier.errors import BadRequest, Conflict, NotFound, QuartierError
from quartier.model.changes import Batch, Record
from quartier.model.parse import known_members, parse_id
from quartier.model.times import format_instant
from quartier.model.values import JSON, TIME
from quartier.store import Store
from quartier.usecases.lighting import calendar, clock, commands, profile
from quartier.usecases.lighting.circuits import LAMP
from quartier.usecases.lighting.named import NamedDefinitions
from quartier.usecases.lighting.status import lit
from quartier.usecases.members import Member, edge_values, members
from quartier.usecases.periods import zone

log = logging.getLogger(__name__)

CATCH_UP = timedelta(minutes=15)  # an event missed by up to this long is still sent
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def parse_schedule(body: Any) -> tuple[str, dict[str, Any]]:
    """(name, definition); 400 naming the first thing wrong."""
    if not isinstance(body, dict):
        raise BadRequest('a schedule is {"name", "target", "on", "off", "dim", "timezone", "grace", '
                         '"calendar"}')
    known_members(body, {"name", "target", "on", "off", "dim", "timezone", "grace", "calendar"},
                  "a schedule")
    name = body.get("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise BadRequest(f"name must be 1 to 100 letters, digits, '.', '_' or '-', not {name!r}")
    target, _ = commands.parse_command({"target": body.get("target"), "parameters": {"x": 1}})
    if "thing" in target:
        parse_id(target["thing"], "target.thing")
    definition: dict[str, Any] = {"target": target}
    for kind in ("on", "off"):
        definition[kind] = profile.switch(body.get(kind, {}), kind)
    if body.get("dim") is not None:
        definition["dim"] = profile.dimming(body["dim"])
    name_of_zone = body.get("timezone", "UTC")
    if not isinstance(name_of_zone, str) or not name_of_zone:
        raise BadRequest("timezone must be an IANA time zone such as Europe/Berlin")
    zone(name_of_zone)  # 400 for an unknown one
    definition["timezone"] = name_of_zone
    definition["grace"] = profile.whole(body.get("grace", 15), "grace", 0, 720)
    definition["calendar"] = calendar.parse_calendar(body.get("calendar", []))
    return name, definition


# -- storage ---------------------------------------------------------------------------


_BOOK = NamedDefinitions("lighting_schedules", "lighting schedule")
create, listing, find, delete, put = _BOOK.create, _BOOK.listing, _BOOK.find, _BOOK.delete, _BOOK.put
# Replacing keeps the schedule's id, so an event it sent already is not sent again.
replace = _BOOK.replace


async def entries(store: Store, tenant_id: int, name: str) -> list[dict[str, Any]]:
    """The calendar of a schedule."""
    return list((await find(store, tenant_id, name)).get("calendar", []))


async def add_entry(store: Store, tenant_id: int, name: str, body: Any) -> dict[str, Any]:
    """Add a calendar entry to a schedule (400 when it is wrong, 409 when its name is taken)."""
    entry = calendar.parse_entry(body)
    await _BOOK.update(store, tenant_id, name, lambda definition: {
        **definition, "calendar": calendar.add(definition.get("calendar", []), entry)})
    return entry


async def remove_entry(store: Store, tenant_id: int, name: str, entry: str) -> None:
    await _BOOK.update(store, tenant_id, name, lambda definition: {
        **definition, "calendar": calendar.remove(definition.get("calendar", []), entry)})


# -- running ---------------------------------------------------------------------------


async def _lamps(store: Store, tenant_id: int, target: dict[str, Any],
                 filter_things: commands.FilterThings) -> list[Member]:
    """The lamps of a target that have a place (the clock needs one)."""
    try:
        ids = set(await commands.lamps(store, tenant_id, target, filter_things))
    except NotFound:
        return []
    return [m for m in await members(store, tenant_id, LAMP) if m.id in ids and m.lonlat is not None]


async def run_due(store: Store, now: datetime,
                  filters: Callable[[int], commands.FilterThings],
                  since: datetime | None = None) -> list[dict[str, Any]]:
    """Send the events of every schedule that came due in (since, now] (by default
    (now - CATCH_UP, now]); the commands sent. ``filters(tenant_id)`` gives the $filter
    evaluator of a tenant."""
    since = now - CATCH_UP if since is None else since
    async with store.reader() as conn:
        rows = await conn.fetch("SELECT id, tenant_id, name, definition FROM lighting_schedules "
                                "ORDER BY id")
    sent = []
    for schedule_id, tenant_id, name, raw in rows:
        definition = store.dialect.decode(JSON, raw)
        try:
            sent += await _run_one(store, int(schedule_id), int(tenant_id), name, definition,
                                   since, now, filters(int(tenant_id)))
        except QuartierError as exc:  # a group gone bad, say: the other schedules go on
            log.warning("lighting schedule %s: %s", name, exc.message)
    return sent


async def _run_one(store: Store, schedule_id: int, tenant_id: int, name: str,
                   definition: dict[str, Any], since: datetime, now: datetime,
                   filter_things: commands.FilterThings) -> list[dict[str, Any]]:
    """The events of one schedule that are due, sent; one command per event."""
    due: dict[tuple[str, datetime], list[int]] = defaultdict(list)
    for lamp in await _lamps(store, tenant_id, definition["target"], filter_things):
        assert lamp.lonlat is not None
        for event in clock.events(definition, lamp.lonlat, since + timedelta(microseconds=1),
                                  now + timedelta(microseconds=1)):
            if event.switches or clock.expected(definition, lamp.lonlat, event.at)[0]:
                due[(event.kind, event.at)].append(lamp.id)
    sent = []
    for (kind, at), things in sorted(due.items(), key=lambda item: item[0][1]):
        wanted = await _unclaimed(store, schedule_id, kind, at, things)
        if not wanted:
            continue
        parameters = clock.parameters(definition, clock.Event(kind, at))
        claims = [Record("lighting_schedule_runs", {
            "schedule_id": schedule_id, "thing_id": thing, "kind": kind,
            "at": store.dialect.encode(TIME, at)},
            unique=_Claimed(f"{kind} at {format_instant(at)} is sent already")) for thing in wanted]
        try:
            result = await commands.command(store, tenant_id, wanted, parameters, claims)
        except _Claimed:  # another worker sent it meanwhile (the next run takes what is left)
            continue
        except BadRequest as exc:  # no lamp can take Tasks: nothing to send, and no retry
            log.warning("lighting schedule %s: %s", name, exc.message)
            with contextlib.suppress(_Claimed):
                await store.write(tenant_id, Batch(records=claims))
            continue
        sent.append({"schedule": name, "event": kind, "at": format_instant(at),
                     "parameters": parameters, **result})
    return sent


class _Claimed(Conflict):
    """A lamp's event was claimed (and its Task made) by another worker meanwhile."""


async def _unclaimed(store: Store, schedule_id: int, kind: str, at: datetime,
                     things: list[int]) -> list[int]:
    """The lamps whose event no one has sent yet."""
    async with store.reader() as conn:
        among, params = store.dialect.among("thing_id", things)
        taken = {int(r[0]) for r in await conn.fetch(
            "SELECT thing_id FROM lighting_schedule_runs WHERE schedule_id = ? AND kind = ? "
            f"AND at = ? AND {among}",
            [schedule_id, kind, store.dialect.encode(TIME, at), *params])}
    return [t for t in things if t not in taken]


# -- compliance ------------------------------------------------------------------------


async def compliance(store: Store, tenant_id: int, name: str, now: datetime,
                     filters: commands.FilterThings) -> dict[str, Any]:
    """The lamps whose latest reported state (or, while lit, dimming level) disagrees with
    the schedule and its calendar, beyond ``grace`` minutes after the event that set it."""
    schedule = await find(store, tenant_id, name)
    lamps = await _lamps(store, tenant_id, schedule["target"], filters)
    grace = timedelta(minutes=schedule["grace"])
    streams = [m.datastreams[f] for m in lamps for f in ("state", "dimming") if f in m.datastreams]
    reports = await edge_values(store, streams)
    disagreeing, unknown, settling = [], [], 0
    for lamp in lamps:
        assert lamp.lonlat is not None
        should, since = clock.expected(schedule, lamp.lonlat, now)
        last = clock.events(schedule, lamp.lonlat, now - timedelta(days=1), now)
        if last and now - last[-1].at < grace:
            settling += 1
            continue
        reported = reports.get(lamp.datastreams.get("state", -1))
        state = lit(reported[1]) if reported is not None else None
        item: dict[str, Any] = {
            "thingId": lamp.id, "name": lamp.name, "expected": "on" if should else "off",
            "since": format_instant(since) if since else None,
            "reported": reported[1] if reported else None,
            "reportedAt": format_instant(reported[0]) if reported else None}
        if state is None:
            unknown.append(item)
        elif state != should:
            disagreeing.append(item)
        elif should and (level := _dim_mismatch(schedule, now, reports.get(
                lamp.datastreams.get("dimming", -1)))) is not None:
            disagreeing.append({**item, "expectedDimming": clock.dim_level(schedule, now),
                                "reportedDimming": level})
    return {"schedule": name, "time": format_instant(now), "graceMinutes": schedule["grace"],
            "lamps": len(lamps), "settling": settling, "disagreeing": disagreeing,
            "unknown": unknown}


def _dim_mismatch(schedule: dict[str, Any], now: datetime,
                  reported: tuple[datetime, Any] | None) -> float | None:
    """The reported dimming level of a lit lamp when it is not the one the profile asks for."""
    if reported is None or isinstance(reported[1], bool) or not isinstance(reported[1], int | float):
        return None
    return float(reported[1]) if abs(reported[1] - clock.dim_level(schedule, now)) > 0.5 else None
