"""Entities as SensorThings JSON: ids, self and navigation links, ``$select``, ``$expand``."""

from __future__ import annotations

from functools import lru_cache
from typing import Any
from urllib.parse import urlencode

from quartier.model.entities import ENTITY_TYPES, EntityType
from quartier.query.options import Expand
from quartier.query.run import EXPANDED, Page

_SAFE = "$,()/;:'"


def self_link(base: str, etype: EntityType, entity_id: int) -> str:
    return f"{base}/{etype.plural}({entity_id})"


def page_link(url: str, raw: dict[str, str], skip: int, top: int) -> str:
    """The link to the next page: the same options, ``$skip`` moved on."""
    kept = _encoded(tuple((k, v) for k, v in raw.items() if k not in ("$skip", "$top")))
    return f"{url}?{kept}{'&' if kept else ''}$top={top}&$skip={skip}"


@lru_cache(maxsize=256)
def _encoded(params: tuple[tuple[str, str], ...]) -> str:
    return urlencode(params, safe=_SAFE)


def entity_json(
    etype: EntityType,
    row: dict[str, Any],
    base: str,
    select: list[str] | None = None,
    expand: list[Expand] | None = None,
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
    expanded = {item.relation.name: item for item in expand or ()}
    for rel in etype.relations:
        item = expanded.get(rel.name)
        if item is not None:
            _put_expanded(out, item, row[EXPANDED][rel.name], link, base)
        elif wanted is None or rel.name in wanted:
            out[f"{rel.name}@iot.navigationLink"] = f"{link}/{rel.name}"
    return out


def _put_expanded(out: dict[str, Any], item: Expand, value: Any, link: str, base: str) -> None:
    name = item.relation.name
    target = ENTITY_TYPES[item.relation.target]
    options = item.options
    if not isinstance(value, Page):
        if value is not None:
            out[name] = entity_json(target, value, base, options.select, options.expand)
        return
    if value.count is not None:
        out[f"{name}@iot.count"] = value.count
    if value.more:
        out[f"{name}@iot.nextLink"] = page_link(
            f"{link}/{name}", item.raw, options.skip + options.top, options.top
        )
    out[name] = [entity_json(target, r, base, options.select, options.expand) for r in value.rows]
