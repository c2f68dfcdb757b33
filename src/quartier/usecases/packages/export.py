"""Exporting a package from a tenant's current state of its use case.

The package installed in the tenant (or, if none, the built-in one of that name) says
what belongs to the use case: its device profiles, the Thing ``kind`` of its devices and
its dashboard views. Everything else comes from the tenant as it is now: the profiles of
the devices of those kinds, the rules that watch them (with the thresholds the town has
set since), the lighting groups and schedules, the fleet's retention. A rule, group or
schedule that names one of this town's Things or Datastreams by id cannot travel; it is
left out and named in ``leftOut``. The file is checked as an import would check it
before it is handed out.
"""

from __future__ import annotations

import copy
from collections import Counter
from dataclasses import replace
from typing import Any

from quartier.errors import NotFound
from quartier.lorawan.profiles import Profile
from quartier.lorawan.profiles import find as find_profile
from quartier.model.values import JSON
from quartier.rules.book import RuleBook
from quartier.rules.definition import Rule
from quartier.store import Store
from quartier.usecases.fleet.day import VEHICLE
from quartier.usecases.lighting import groups, schedules
from quartier.usecases.lighting.circuits import LAMP
from quartier.usecases.members import Member, members
from quartier.usecases.packages.builtin import built_in
from quartier.usecases.packages.format import FORMAT, parse_package


async def installed(store: Store, tenant_id: int) -> list[dict[str, Any]]:
    """The packages installed in the tenant, by name."""
    async with store.reader() as conn:
        rows = await conn.fetch("SELECT name, version, definition, installed_at FROM packages "
                                "WHERE tenant_id = ? ORDER BY name", (tenant_id,))
    decode = store.dialect.decode
    return [{"name": r[0], "version": r[1], "description": decode(JSON, r[2]).get("description", ""),
             "installedAt": r[3] if isinstance(r[3], str) else r[3].isoformat()} for r in rows]


async def _base(store: Store, tenant_id: int, name: str) -> dict[str, Any]:
    async with store.reader() as conn:
        raw = await conn.fetchval("SELECT definition FROM packages WHERE tenant_id = ? AND name = ?",
                                  (tenant_id, name))
    base = store.dialect.decode(JSON, raw) if raw is not None else built_in(name)
    if base is None:
        raise NotFound(f"no package {name!r} is installed here, and none is built in")
    return dict(base)


class _Exporter:
    def __init__(self, store: Store, tenant_id: int, base: dict[str, Any]) -> None:
        self.store = store
        self.tenant_id = tenant_id
        self.base = base
        self.kinds: list[str] = list(base.get("kinds", []))
        self.observed: dict[int, dict[str, Any]] = {}  # the tenant's id -> as in the file
        self._known: dict[int, dict[str, Any]] = {}  # ObservedProperties read so far
        self.left_out: list[str] = []
        self.things: dict[str, list[Member]] = {}

    async def run(self) -> dict[str, Any]:
        for kind in self.kinds:
            self.things[kind] = await members(self.store, self.tenant_id, kind)
        profiles = await self._profiles()
        out: dict[str, Any] = {
            "format": FORMAT, "name": self.base["name"], "version": self.base["version"],
            "description": self.base.get("description", ""), "kinds": self.kinds,
            "views": self.base.get("views", []),
            "deviceProfiles": [self._profile_json(p) for p in profiles],
            "taskingCapabilities": [{"profile": p.name, **c.as_json()}
                                    for p in profiles for c in p.capabilities],
            "rules": await self._rules(),
        }
        if LAMP in self.kinds:
            out["lighting"] = await self._lighting()
        if VEHICLE in self.kinds:
            days = await self._retention()
            out["fleet"] = {"retentionDays": days} if days is not None else {}
        out["observedProperties"] = sorted(self.observed.values(), key=lambda o: o["definition"])
        if self.left_out:
            out["leftOut"] = self.left_out
        parse_package(out)  # what is exported, an import takes
        return out

    async def _profiles(self) -> list[Profile]:
        names = [p["name"] for p in self.base.get("deviceProfiles", []) if isinstance(p, dict)]
        thing_ids = [m.id for kind in self.kinds for m in self.things[kind]]
        async with self.store.reader() as conn:
            for start in range(0, len(thing_ids), 500):
                chunk = thing_ids[start:start + 500]
                names += [str(r[0]) for r in await conn.fetch(
                    "SELECT DISTINCT p.name FROM devices d JOIN device_profiles p ON p.id = d.profile_id "
                    f"WHERE d.tenant_id = ? AND d.thing_id IN ({', '.join('?' for _ in chunk)})",
                    (self.tenant_id, *chunk))]
        found = []
        for name in sorted(set(names)):
            profile = await find_profile(self.store, self.tenant_id, name)
            if profile is not None:
                found.append(profile)
                for spec in profile.fields:
                    stored = await self._read(spec.observed_property_id or 0)
                    if stored is not None and spec.observed_property_id is not None:
                        self.observed[spec.observed_property_id] = stored
                    else:  # deleted since: as the profile remembers it, under a stand-in key
                        self.observed[-1 - len(self.observed)] = {
                            k: spec.observed_property.get(k, "")
                            for k in ("name", "definition", "description")}
        return found

    async def _read(self, observed_property: int) -> dict[str, Any] | None:
        """The tenant's ObservedProperty as it is now, as the file has it (None: deleted)."""
        if observed_property not in self._known:
            async with self.store.reader() as conn:
                row = await conn.fetchrow(
                    "SELECT name, definition, description FROM observed_properties "
                    "WHERE tenant_id = ? AND id = ?", (self.tenant_id, observed_property))
            if row is None:
                return None
            self._known[observed_property] = {"name": row[0], "definition": row[1], "description": row[2]}
        return self._known[observed_property]

    def _profile_json(self, profile: Profile) -> dict[str, Any]:
        out = replace(profile, id=None, capabilities=()).as_json()
        del out["taskingCapabilities"]
        for spec in profile.fields:
            stored = self.observed.get(spec.observed_property_id or 0, spec.observed_property)
            out["fields"][spec.key]["observedProperty"] = stored["definition"]
        if out["decoder"] is None:
            del out["decoder"]
        if out["position"] is None:
            del out["position"]
        return out

    def _kind_of(self, thing: int | None = None, datastream: int | None = None) -> str | None:
        for kind, things in self.things.items():
            for member in things:
                if member.id == thing or datastream in member.datastreams.values():
                    return kind
        return None

    async def _rules(self) -> list[dict[str, Any]]:
        out = []
        definitions = {o["definition"] for o in self.observed.values()}
        names = {o["name"] for o in self.observed.values()}
        for rule in await RuleBook(self.store).all(self.tenant_id):
            target = rule.target
            if target.datastream is not None or target.thing is not None:
                if self._kind_of(target.thing, target.datastream) is not None:
                    what = "Thing" if target.thing is not None else "Datastream"
                    self.left_out.append(f"rule {rule.name}: it watches {what} "
                                         f"{target.thing or target.datastream} of this town by id")
                continue
            observed = None
            if target.observed_property is not None:
                observed = await self._read(target.observed_property)
            selected = (target.things or target.where or {}).get("kind")
            if (selected in self.kinds or target.observed_property_name in names
                    or (observed is not None and observed["definition"] in definitions)):
                if target.observed_property is not None and observed is not None:
                    self.observed[target.observed_property] = observed
                out.append(self._rule_json(rule))
        return out

    def _rule_json(self, rule: Rule) -> dict[str, Any]:
        body = copy.deepcopy(rule.body)
        if rule.target.observed_property is not None:
            body["target"]["observedProperty"] = {
                "definition": self.observed[rule.target.observed_property]["definition"]}
        return body

    async def _lighting(self) -> dict[str, Any]:
        kept_groups = []
        for group in await groups.listing(self.store, self.tenant_id):
            if "filter" in group:
                kept_groups.append(group)
            else:
                self.left_out.append(f"lighting group {group['name']}: it lists Things of this town by id")
        kept_names = {g["name"] for g in kept_groups}
        kept_schedules = []
        for schedule in await schedules.listing(self.store, self.tenant_id):
            target = schedule["target"]
            if "thing" in target or ("group" in target and target["group"] not in kept_names):
                self.left_out.append(f"lighting schedule {schedule['name']}: its target {target} "
                                     "names Things of this town by id")
            else:
                kept_schedules.append(schedule)
        return {"groups": kept_groups, "schedules": kept_schedules}

    async def _retention(self) -> int | None:
        """The retention most of the vehicles' Datastreams have."""
        ids = [i for m in self.things.get(VEHICLE, []) for i in m.datastreams.values()]
        counts: Counter[int] = Counter()
        async with self.store.reader() as conn:
            for start in range(0, len(ids), 500):
                chunk = ids[start:start + 500]
                counts.update(int(r[0]) for r in await conn.fetch(
                    "SELECT retention_days FROM datastreams WHERE retention_days IS NOT NULL AND id IN "
                    f"({', '.join('?' for _ in chunk)})", chunk))
        if counts:
            return counts.most_common(1)[0][0]
        days = self.base.get("fleet", {}).get("retentionDays")
        return days if isinstance(days, int) else None


async def export(store: Store, tenant_id: int, name: str) -> dict[str, Any]:
    """The package ``name`` as the tenant has it now; 404 for a package it does not know."""
    return await _Exporter(store, tenant_id, await _base(store, tenant_id, name)).run()
