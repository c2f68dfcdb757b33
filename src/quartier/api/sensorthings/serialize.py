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
    if select is None and not expand:
        return _plain_writer(etype.name, base)(row)
    return EntityWriter(etype, base, select, expand)(row)


@lru_cache(maxsize=256)
def _plain_writer(etype_name: str, base: str) -> EntityWriter:
    return EntityWriter(ENTITY_TYPES[etype_name], base)


class EntityWriter:
    """Writes rows of one entity type as SensorThings JSON for one base URL, ``$select``
    and ``$expand``: what goes into an entity is worked out once, not again per row (a
    page may hold thousands)."""

    def __init__(
        self,
        etype: EntityType,
        base: str,
        select: list[str] | None = None,
        expand: list[Expand] | None = None,
    ) -> None:
        wanted = None if select is None else set(select)
        self._prefix = f"{base}/{etype.plural}("
        self._with_id = wanted is None or "id" in wanted or "@iot.id" in wanted
        self._with_link = self._with_id or wanted is None or "@iot.selfLink" in wanted
        self._properties = tuple(
            (prop.name, prop.always_emitted)
            for prop in etype.properties if wanted is None or prop.name in wanted
        )
        expanded = {item.relation.name: item for item in expand or ()}
        # Per relation in the type's order: its expansion, or the key and the path after
        # the entity's link of its navigation link.
        self._relations: list[tuple[str, str, _Expansion | None]] = []
        for rel in etype.relations:
            item = expanded.get(rel.name)
            if item is not None:
                self._relations.append((rel.name, "", _Expansion(item, base)))
            elif wanted is None or rel.name in wanted:
                self._relations.append((f"{rel.name}@iot.navigationLink", f"/{rel.name}", None))

    def __call__(self, row: dict[str, Any]) -> dict[str, Any]:
        entity_id = row["id"]
        link = f"{self._prefix}{entity_id})"
        out: dict[str, Any] = {}
        if self._with_link:
            out["@iot.selfLink"] = link
        if self._with_id:
            out["@iot.id"] = entity_id
        for name, always in self._properties:
            value = row[name]
            if value is not None or always:
                out[name] = value
        for name, path, expansion in self._relations:
            if expansion is None:
                out[name] = link + path
            else:
                expansion.put(out, row[EXPANDED][name], link)
        return out


class _Expansion:
    """One ``$expand`` item of an :class:`EntityWriter`: writes the related entities."""

    def __init__(self, item: Expand, base: str) -> None:
        options = item.options
        self.name = item.relation.name
        self.write = EntityWriter(ENTITY_TYPES[item.relation.target], base, options.select,
                                  options.expand)
        # The next page's link, after the entity's own link.
        self.next_link = page_link(f"/{self.name}", item.raw, options.skip + options.top, options.top)

    def put(self, out: dict[str, Any], value: Any, link: str) -> None:
        name = self.name
        if not isinstance(value, Page):
            if value is not None:
                out[name] = self.write(value)
            return
        if value.count is not None:
            out[f"{name}@iot.count"] = value.count
        if value.more:
            out[f"{name}@iot.nextLink"] = link + self.next_link
        write = self.write
        out[name] = [write(r) for r in value.rows]
