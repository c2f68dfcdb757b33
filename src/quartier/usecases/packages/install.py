"""Installing a package into a tenant: all of it in one transaction, or nothing.

What exists already is matched, not duplicated: ObservedProperties by definition, device
profiles, rules, lighting groups and schedules by name. A rule, group or schedule that
differs from the package's is updated; a device profile that differs is kept as it is
(the devices registered with it depend on its Datastreams) and reported as skipped.
Importing the same file twice creates nothing the second time.

Rules name their ObservedProperty by definition in the file; here it is bound to this
tenant's ObservedProperty of that definition (made by the package if the tenant has
none). The fleet's retention is set on the vehicles the tenant has now.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace
from typing import Any

from quartier.lorawan.profiles import Profile, add_profile
from quartier.lorawan.profiles import find as find_profile
from quartier.model.changes import Batch, Create, IdRef, NewRef, Ref
from quartier.model.entities import ENTITY_TYPES
from quartier.model.parse import parse_members
from quartier.model.values import JSON, TIME
from quartier.rules.alerts import now
from quartier.rules.book import RuleBook
from quartier.rules.definition import Rule, parse_rule
from quartier.store import Store
from quartier.store.connection import Connection
from quartier.store.write import BatchWriter
from quartier.usecases.fleet.day import VEHICLE
from quartier.usecases.lighting import groups, schedules
from quartier.usecases.members import members
from quartier.usecases.packages.format import Package, PackageError, at

_OBSERVED_PROPERTY = ENTITY_TYPES["ObservedProperty"]


@dataclass
class Report:
    """What an import did, one line per thing it looked at."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def note(self, outcome: str, what: str) -> None:
        if outcome == "created":
            self.created.append(what)
        elif outcome == "updated":
            self.updated.append(what)
        else:
            self.skipped.append(f"{what}: unchanged")


async def install(store: Store, tenant_id: int, package: Package) -> dict[str, Any]:
    """Write ``package`` into the tenant; the report of what was created, updated and
    skipped. A 4xx leaves the tenant as it was."""
    store.check_writable(tenant_id)
    report = Report()
    profiles = [(p, await find_profile(store, tenant_id, p.name)) for p in package.profiles]
    vehicles = [v.id for v in await members(store, tenant_id, VEHICLE)]
    book = RuleBook(store)
    async with store.transaction() as conn:
        observed = await _observed_properties(conn, tenant_id, package)
        batch = Batch()
        refs: dict[str, Ref] = {}
        for definition, op in package.observed_properties.items():
            if definition in observed:
                refs[definition] = IdRef(_OBSERVED_PROPERTY, observed[definition])
                report.skipped.append(f"ObservedProperty {op['name']}: the tenant has it")
            else:
                values = parse_members(_OBSERVED_PROPERTY, op)[0]
                refs[definition] = NewRef(_OBSERVED_PROPERTY, batch.add(Create(_OBSERVED_PROPERTY, values)))
                report.created.append(f"ObservedProperty {op['name']}")
        for profile, existing in profiles:
            _profile(batch, tenant_id, profile, existing, refs, report)
        ids = await BatchWriter(conn, store.dialect, tenant_id).apply(batch)
        bound = {d: ref.id if isinstance(ref, IdRef) else ids[ref.index] for d, ref in refs.items()}
        for i, body in enumerate(package.rules):
            with at(f"rules[{i}]"):
                rule = await _bound_rule(conn, tenant_id, body, bound)
            report.note(await _put_rule(conn, book, tenant_id, rule), f"rule {rule.name}")
        for name, group in package.groups:
            report.note(await groups.put(conn, store.dialect, tenant_id, name, group),
                        f"lighting group {name}")
        for name, schedule in package.schedules:
            report.note(await schedules.put(conn, store.dialect, tenant_id, name, schedule),
                        f"lighting schedule {name}")
        if package.retention_days is not None:
            await _retention(conn, tenant_id, vehicles, package.retention_days, report)
        await _views(conn, store, tenant_id, package, report)
        report.note(await _record(conn, store, tenant_id, package), f"package {package.name}")
    return {"package": package.name, "version": package.version, "created": report.created,
            "updated": report.updated, "skipped": report.skipped}


async def _observed_properties(conn: Connection, tenant_id: int, package: Package) -> dict[str, int]:
    """definition -> id of the tenant's ObservedProperties the package names."""
    wanted = list(package.observed_properties)
    if not wanted:
        return {}
    rows = await conn.fetch(
        "SELECT definition, min(id) FROM observed_properties WHERE tenant_id = ? AND definition "
        f"IN ({', '.join('?' for _ in wanted)}) GROUP BY definition", (tenant_id, *wanted))
    return {str(r[0]): int(r[1]) for r in rows}


def _profile(batch: Batch, tenant_id: int, profile: Profile, existing: Profile | None,
             refs: dict[str, Ref], report: Report) -> None:
    if existing is None:
        add_profile(batch, tenant_id, profile, refs)
        report.created.append(f"device profile {profile.name}")
        return
    # Compared as the file has them: ObservedProperties by definition, no ids.
    if _comparable(existing) == _comparable(profile):
        report.skipped.append(f"device profile {profile.name}: unchanged")
    else:
        report.skipped.append(f"device profile {profile.name}: the tenant's differs from the "
                              "package's and is kept (its devices depend on it)")


def _comparable(profile: Profile) -> dict[str, Any]:
    out = replace(profile, id=None).as_json()
    for spec in out["fields"].values():
        spec["observedProperty"] = spec["observedProperty"]["definition"]
    return out


async def _bound_rule(conn: Connection, tenant_id: int, body: dict[str, Any],
                      bound: dict[str, int]) -> Rule:
    """The rule with its ObservedProperty definition replaced by this tenant's id."""
    body = copy.deepcopy(body)
    target = body["target"]
    reference = target.get("observedProperty")
    if isinstance(reference, dict) and "definition" in reference:
        target["observedProperty"] = bound[reference["definition"]]
    elif isinstance(reference, dict) and "name" in reference and await conn.fetchval(
            "SELECT 1 FROM observed_properties WHERE tenant_id = ? AND name = ?",
            (tenant_id, reference["name"])) is None:
        raise PackageError("target.observedProperty", f"the tenant has no ObservedProperty named "
                           f"{reference['name']!r}; name it by definition, one of the package's "
                           "observedProperties")
    return parse_rule(body)


async def _put_rule(conn: Connection, book: RuleBook, tenant_id: int, rule: Rule) -> str:
    row = await conn.fetchrow("SELECT id, tenant_id, name, definition, enabled, revision FROM rules "
                              "WHERE tenant_id = ? AND name = ?", (tenant_id, rule.name))
    if row is None:
        await book.insert(conn, tenant_id, rule)
        return "created"
    old = book.rule_of(row)
    if old.body == {**rule.body, "enabled": rule.enabled}:
        return "unchanged"
    await book.rewrite(conn, tenant_id, old, rule)
    return "updated"


async def _retention(conn: Connection, tenant_id: int, vehicles: list[int], days: int,
                     report: Report) -> None:
    if not vehicles:
        report.skipped.append(f"fleet retention of {days} days: the tenant has no vehicles yet; "
                              "set it with PUT /api/fleet/retention once they are registered")
        return
    await conn.execute(
        "UPDATE datastreams SET retention_days = ? WHERE tenant_id = ? AND thing_id IN "
        f"({', '.join('?' for _ in vehicles)})", (days, tenant_id, *vehicles))
    report.updated.append(f"fleet retention: {days} days on {len(vehicles)} vehicles")


async def _views(conn: Connection, store: Store, tenant_id: int, package: Package,
                 report: Report) -> None:
    """A tenant that chose its dashboard views gets the package's views added; one that
    shows every view (no choice stored) shows them already."""
    raw = await conn.fetchval("SELECT views FROM dashboard_views WHERE tenant_id = ?", (tenant_id,))
    if raw is None or not package.views:
        return
    shown = list(store.dialect.decode(JSON, raw))
    added = [v for v in package.views if v not in shown]
    if added:
        await conn.execute("UPDATE dashboard_views SET views = ? WHERE tenant_id = ?",
                           (store.dialect.encode(JSON, shown + added), tenant_id))
        report.updated.append(f"dashboard views: {', '.join(added)} shown")


async def _record(conn: Connection, store: Store, tenant_id: int, package: Package) -> str:
    """The package's row in the tenant's list of installed packages."""
    encode = store.dialect.encode
    row = await conn.fetchrow("SELECT id, version, definition FROM packages WHERE tenant_id = ? "
                              "AND name = ?", (tenant_id, package.name))
    if row is None:
        await conn.execute("INSERT INTO packages (tenant_id, name, version, definition, installed_at) "
                           "VALUES (?, ?, ?, ?, ?)", (tenant_id, package.name, package.version,
                                                      encode(JSON, package.body), encode(TIME, now())))
        return "created"
    if row[1] == package.version and store.dialect.decode(JSON, row[2]) == package.body:
        return "unchanged"
    await conn.execute("UPDATE packages SET version = ?, definition = ?, installed_at = ? WHERE id = ?",
                       (package.version, encode(JSON, package.body), encode(TIME, now()), row[0]))
    return "updated"
