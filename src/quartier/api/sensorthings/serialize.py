"""Entities as SensorThings JSON: ids, self and navigation links, ``$select``."""

from __future__ import annotations

from typing import Any

from quartier.model.entities import EntityType


def self_link(base: str, etype: EntityType, entity_id: int) -> str:
    return f"{base}/{etype.plural}({entity_id})"


def entity_json(
    etype: EntityType, row: dict[str, Any], base: str, select: list[str] | None = None
) -> dict[str, Any]:
    link = self_link(base, etype, row["id"])
    wanted = None if select is None else set(select)
    out: dict[str, Any] = {}
    if wanted is None or "@iot.selfLink" in wanted or "id" in wanted or "@iot.id" in wanted:
        out["@iot.selfLink"] = link
    if wanted is None or "id" in wanted or "@iot.id" in wanted:
        out["@iot.id"] = row["id"]
    for prop in etype.properties:
        if wanted is not None and prop.name not in wanted:
            continue
        value = row[prop.name]
        if value is None and not prop.always_emitted:
            continue
        out[prop.name] = value
    for rel in etype.relations:
        if wanted is None or rel.name in wanted:
            out[f"{rel.name}@iot.navigationLink"] = f"{link}/{rel.name}"
    return out
