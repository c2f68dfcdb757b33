"""The rules of each tenant, kept in the ``rules`` table: create, read, change, delete.

Disabling or deleting a rule resolves its alerts that are still open (saying why) and
forgets what it knew of its subjects, so that enabling it again starts afresh. Changing a
rule keeps that knowledge: its new levels apply from the next value on.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from quartier.errors import BadRequest, Conflict, NotFound
from quartier.model.values import JSON, TIME
from quartier.rules.alerts import Alerts, now
from quartier.rules.definition import Rule, parse_rule
from quartier.store import Store

_COLUMNS = "id, tenant_id, name, definition, enabled, revision"
MAX_RULES = 10_000  # per tenant


class RuleBook:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.alerts = Alerts(store)

    def rule_of(self, row: Any) -> Rule:
        """The rule of a row of ``rules`` (its columns as selected here)."""
        body = self.store.dialect.decode(JSON, row[3])
        body = {**body, "name": row[2], "enabled": bool(row[4])}
        rule = parse_rule(body)
        return replace(rule, id=int(row[0]), tenant_id=int(row[1]), body=body, revision=int(row[5]))

    async def all(self, tenant_id: int | None = None) -> list[Rule]:
        sql = f"SELECT {_COLUMNS} FROM rules" + (" WHERE tenant_id = ?" if tenant_id else "")
        async with self.store.reader() as conn:
            rows = await conn.fetch(sql + " ORDER BY id", (tenant_id,) if tenant_id else ())
        return [self.rule_of(r) for r in rows]

    async def by_ids(self, ids: list[int]) -> list[Rule]:
        out: list[Rule] = []
        async with self.store.reader() as conn:
            for start in range(0, len(ids), 500):
                chunk = ids[start:start + 500]
                rows = await conn.fetch(f"SELECT {_COLUMNS} FROM rules WHERE id IN "
                                        f"({', '.join('?' for _ in chunk)})", chunk)
                out += [self.rule_of(r) for r in rows]
        return out

    async def find(self, tenant_id: int, name: str) -> Rule:
        async with self.store.reader() as conn:
            row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM rules WHERE tenant_id = ? AND name = ?",
                                      (tenant_id, name))
        if row is None:
            raise NotFound(f"no rule named {name!r}")
        return self.rule_of(row)

    async def create(self, tenant_id: int, body: Any) -> Rule:
        rule = parse_rule(body)
        await self._check_target(tenant_id, rule)
        async with self.store.transaction() as conn:
            await self.insert(conn, tenant_id, rule)
        return await self.find(tenant_id, rule.name)

    async def insert(self, conn: Any, tenant_id: int, rule: Rule) -> None:
        """Store a new (checked) rule on ``conn``, inside the caller's transaction."""
        stored = {k: v for k, v in rule.body.items() if k not in ("name", "enabled")}
        if await conn.fetchval("SELECT 1 FROM rules WHERE tenant_id = ? AND name = ?",
                               (tenant_id, rule.name)) is not None:
            raise Conflict(f"a rule named {rule.name!r} exists already")
        count = await conn.fetchval("SELECT count(*) FROM rules WHERE tenant_id = ?", (tenant_id,))
        if int(count) >= MAX_RULES:
            raise Conflict(f"a tenant may have at most {MAX_RULES} rules")
        at = self.store.dialect.encode(TIME, now())
        await conn.execute(
            "INSERT INTO rules (tenant_id, name, definition, enabled, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (tenant_id, rule.name, self.store.dialect.encode(JSON, stored), rule.enabled, at, at))

    async def update(self, tenant_id: int, name: str, body: Any, merge: bool) -> Rule:
        old = await self.find(tenant_id, name)
        if not isinstance(body, dict):
            raise BadRequest("a rule is a JSON object")
        new_body = {**old.body, **body} if merge else {"name": name, **body}
        new_body.setdefault("name", name)
        rule = parse_rule(new_body)
        await self._check_target(tenant_id, rule)
        async with self.store.transaction() as conn:
            await self.rewrite(conn, tenant_id, old, rule)
        return await self.find(tenant_id, rule.name)

    async def rewrite(self, conn: Any, tenant_id: int, old: Rule, rule: Rule) -> None:
        """Replace the stored rule ``old`` by the (checked) ``rule`` on ``conn``, inside the
        caller's transaction."""
        stored = {k: v for k, v in rule.body.items() if k not in ("name", "enabled")}
        if rule.name != old.name and await conn.fetchval(
                "SELECT 1 FROM rules WHERE tenant_id = ? AND name = ?", (tenant_id, rule.name)):
            raise Conflict(f"a rule named {rule.name!r} exists already")
        await conn.execute(
            "UPDATE rules SET name = ?, definition = ?, enabled = ?, revision = revision + 1, "
            "updated_at = ? WHERE id = ?",
            (rule.name, self.store.dialect.encode(JSON, stored), rule.enabled,
             self.store.dialect.encode(TIME, now()), old.id))
        if old.enabled and not rule.enabled:
            await self._retire(conn, tenant_id, old, "the rule was disabled")

    async def delete(self, tenant_id: int, name: str) -> None:
        rule = await self.find(tenant_id, name)
        async with self.store.transaction() as conn:
            await self._retire(conn, tenant_id, rule, "the rule was deleted")
            await conn.execute("DELETE FROM rules WHERE id = ?", (rule.id,))

    async def _retire(self, conn: Any, tenant_id: int, rule: Rule, why: str) -> None:
        open_ids = await conn.fetch("SELECT id FROM alerts WHERE rule_id = ? AND status <> 'resolved'",
                                    (rule.id,))
        for (alert_id,) in open_ids:
            await self.alerts.close(conn, tenant_id, int(alert_id), "system", why)
        await conn.execute("DELETE FROM rule_states WHERE rule_id = ?", (rule.id,))

    async def _check_target(self, tenant_id: int, rule: Rule) -> None:
        """A target that names an entity must name one that exists."""
        target = rule.target
        checks = [("datastreams", target.datastream), ("observed_properties", target.observed_property),
                  ("things", target.thing)]
        async with self.store.reader() as conn:
            for table, entity_id in checks:
                if entity_id is not None and await conn.fetchval(
                        f"SELECT 1 FROM {table} WHERE id = ? AND tenant_id = ?",
                        (entity_id, tenant_id)) is None:
                    kind = {"datastreams": "Datastream", "observed_properties": "ObservedProperty",
                            "things": "Thing"}[table]
                    raise BadRequest(f"target: no {kind} with @iot.id {entity_id}")
            if target.observed_property_name is not None and await conn.fetchval(
                    "SELECT 1 FROM observed_properties WHERE tenant_id = ? AND name = ?",
                    (tenant_id, target.observed_property_name)) is None:
                raise BadRequest(f"target: no ObservedProperty named {target.observed_property_name!r}")


def rule_json(rule: Rule) -> dict[str, Any]:
    return {"id": rule.id, **rule.body, "name": rule.name, "enabled": rule.enabled,
            "revision": rule.revision}
