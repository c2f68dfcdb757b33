"""Lighting commands: switch or dim one lamp, a circuit, a district or a saved group, as
one Task per lamp (on the lamp's first TaskingCapability), all written in one transaction.

Targets: ``{"thing": id}``, ``{"cabinet": "SK-01", "circuit": "1"}``, ``{"district":
"Altstadt"}`` or ``{"group": "name"}``; lamps are the Things whose ``properties/kind`` is
``streetlight``, with ``cabinet``, ``circuit`` and ``district`` among their properties.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from quartier.errors import BadRequest, NotFound
from quartier.model.changes import Batch, NewRef, Record
from quartier.model.entities import ENTITY_TYPES
from quartier.model.parse import known_members, parse_create, parse_id
from quartier.store import Store
from quartier.usecases.lighting import groups
from quartier.usecases.lighting.circuits import LAMP
from quartier.usecases.members import members

_TASK = ENTITY_TYPES["Task"]
_TARGETS = ({"thing"}, {"cabinet", "circuit"}, {"district"}, {"group"})
# Thing ids a $filter on Things selects (the SensorThings query, with its checks).
FilterThings = Callable[[str], Awaitable[list[int]]]


def parse_command(body: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """(target, parameters) of a command; 400 naming what is wrong."""
    if not isinstance(body, dict):
        raise BadRequest('a command is {"target": {…}, "parameters": {"switch": "on", "dim": 60}}')
    known_members(body, {"target", "parameters"}, "a command")
    target, parameters = body.get("target"), body.get("parameters")
    if not isinstance(target, dict) or set(target) not in _TARGETS:
        raise BadRequest('target is {"thing": id}, {"cabinet": …, "circuit": …}, '
                         '{"district": …} or {"group": name}')
    if not isinstance(parameters, dict) or not parameters:
        raise BadRequest('parameters must be an object, e.g. {"switch": "on", "dim": 60}')
    return target, parameters


async def lamps(store: Store, tenant_id: int, target: dict[str, Any],
                filter_things: FilterThings) -> list[int]:
    """The Thing ids of the lamps a target names; 404 when it names none. Only lamps count:
    a Thing id or a group member that is not a lamp of the tenant is not commanded."""
    known = await members(store, tenant_id, LAMP)
    if "thing" in target:
        thing = parse_id(target["thing"], "target.thing")
        if not any(m.id == thing for m in known):
            raise NotFound(f"no lamp with @iot.id {thing}: a lamp is a Thing whose "
                           f"properties/kind is '{LAMP}'")
        return [thing]
    if "group" in target:
        group = await groups.find(store, tenant_id, str(target["group"]))
        chosen = set(group["things"] if "things" in group else await filter_things(group["filter"]))
        found = [m.id for m in known if m.id in chosen]
    else:
        wanted = {k: str(v) for k, v in target.items()}
        found = [m.id for m in known if all(str(m.properties.get(k)) == v for k, v in wanted.items())]
    if not found:
        raise NotFound(f"no lamps at {json.dumps(target, ensure_ascii=False)}: lamps are "
                       f"Things whose properties/kind is '{LAMP}'")
    return sorted(found)


async def command(store: Store, tenant_id: int, things: list[int],
                  parameters: dict[str, Any], records: Sequence[Record] = ()) -> dict[str, Any]:
    """One Task per lamp, in one transaction: all of them or (400) none; ``records`` are
    written in the same transaction (a schedule's claim of its event)."""
    async with store.reader() as conn:
        rows = await conn.fetch(
            "SELECT thing_id, min(id) FROM tasking_capabilities WHERE tenant_id = ? AND thing_id "
            f"IN ({', '.join('?' for _ in things)}) GROUP BY thing_id ORDER BY thing_id",
            (tenant_id, *things))
    capabilities = {int(r[0]): int(r[1]) for r in rows}
    if not capabilities:
        raise BadRequest("none of the lamps has a TaskingCapability")
    batch = Batch()
    roots: list[tuple[int, int, NewRef]] = []
    for thing, capability in capabilities.items():
        _, root = parse_create(_TASK, {"taskingParameters": parameters,
                                       "TaskingCapability": {"@iot.id": capability}}, into=batch)
        assert isinstance(root, NewRef)
        roots.append((thing, capability, root))
    batch.records.extend(records)
    result = await store.write(tenant_id, batch)
    return {
        "tasks": [{"taskId": result.ids[root.index], "thingId": thing,
                   "taskingCapabilityId": capability} for thing, capability, root in roots],
        "withoutCapability": [t for t in things if t not in capabilities],
    }
