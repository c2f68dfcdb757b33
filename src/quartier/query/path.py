"""Resource paths: ``Things(1)/Datastreams(3)/Sensor/name/$value`` and the like.

Parsing is pure; :func:`resolve` walks the path against the store, checking that every
entity named on the way exists (and belongs to its parent), so that the last step can be
read, created in, updated or deleted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from quartier.errors import NotFound
from quartier.model.changes import IdRef
from quartier.model.entities import ENTITY_SETS, EntityType, Property, Relation, RelationKind
from quartier.store.base import Store
from quartier.store.read import Scope, first_id, foreign_key
from quartier.store.tenancy import Reader

_SEGMENT = re.compile(r"^(?P<name>[A-Za-z$][A-Za-z0-9_]*)(?:\((?P<key>[^()]*)\))?$")
_MAX_ID = 2**63 - 1


@dataclass(frozen=True)
class Segment:
    name: str
    key: int | None = None


@dataclass(frozen=True)
class ResourcePath:
    segments: tuple[Segment, ...]
    text: str


def parse_path(text: str) -> ResourcePath:
    """Split a path below the version root into segments; 404 when it cannot name anything."""
    parts = [p for p in text.strip("/").split("/")]
    if not parts or parts == [""]:
        raise NotFound("empty resource path")
    segments = []
    for part in parts:
        match = _SEGMENT.match(part)
        if match is None:
            raise NotFound(f"no resource at {text!r}: cannot read the segment {part!r}")
        key = match.group("key")
        segments.append(Segment(match.group("name"), None if key is None else _key(key, text)))
    return ResourcePath(tuple(segments), text)


def _key(raw: str, text: str) -> int:
    raw = raw.strip()
    if raw.startswith("'") and raw.endswith("'") and len(raw) >= 2:
        raw = raw[1:-1]
    if not (raw.isascii() and raw.isdigit()):
        raise NotFound(f"no resource at {text!r}: ids are whole numbers, not {raw!r}")
    value = int(raw)
    if value > _MAX_ID:
        raise NotFound(f"no resource at {text!r}: id {raw} is out of range")
    return value


@dataclass
class Target:
    """What a resource path names, resolved against the store."""

    etype: EntityType
    scope: Scope
    single: bool
    entity_id: int | None = None  # the id when the path names one entity by id or link
    # for Things(1)/Datastreams: the relation Thing.Datastreams and Thing 1
    parent: tuple[Relation, IdRef] | None = None
    property: Property | None = None
    raw_value: bool = False
    ref: bool = False


async def resolve(
    store: Store, reader: Reader, path: ResourcePath, for_create: bool = False
) -> Target:
    """Walk ``path``; 404 for unknown names, ids or entities that do not belong together.

    With ``for_create``, a POST to ``Set(id)/Collection`` does not look its parent up
    first: the write checks it (and answers 404) in its own transaction.
    """
    first, rest = path.segments[0], path.segments[1:]
    etype = ENTITY_SETS.get(first.name)
    if etype is None:
        raise NotFound(
            f"no entity set {first.name!r}; the entity sets are {', '.join(ENTITY_SETS)}"
        )
    target = Target(etype, Scope(etype), single=False)
    if first.key is not None:
        target = _by_id(target, first.key)
    for index, segment in enumerate(rest):
        last = index == len(rest) - 1
        if segment.name == "$ref":
            if not last or target.property is not None:
                raise NotFound(f"$ref must end the path: {path.text!r}")
            target.ref = True
            continue
        if segment.name == "$value":
            if not last or target.property is None:
                raise NotFound(f"$value must follow a property: {path.text!r}")
            target.raw_value = True
            continue
        if target.property is not None:
            raise NotFound(f"nothing lies below the property {target.property.name}")
        member = target.etype.member(segment.name)
        if member is None:
            raise NotFound(
                f"{target.etype.name} has no property or relation {segment.name!r}"
            )
        if not target.single:
            raise NotFound(
                f"{segment.name} must follow one entity, e.g. {target.etype.plural}(1)/"
                f"{segment.name}"
            )
        if isinstance(member, Property):
            if segment.key is not None:
                raise NotFound(f"the property {segment.name} takes no id")
            target.property = member
            continue
        trust_parent = for_create and last and _only_by_id(target)
        target = await _navigate(store, reader, target, member, segment, path, trust_parent)
    return target


def _by_id(target: Target, key: int) -> Target:
    return Target(
        target.etype, target.scope.with_id(key), single=True, entity_id=key,
        parent=target.parent,
    )


async def _navigate(
    store: Store, reader: Reader, target: Target, rel: Relation, segment: Segment,
    path: ResourcePath, trust_parent: bool = False,
) -> Target:
    from quartier.model.entities import ENTITY_TYPES

    other = ENTITY_TYPES[rel.target]
    if trust_parent and rel.many and segment.key is None and target.entity_id is not None:
        parent_ref = IdRef(target.etype, target.entity_id, from_path=True)
        return Target(other, Scope(other), single=False, parent=(rel, parent_ref))
    parent_id = await _existing_id(store, reader, target, path)
    if rel.kind is RelationKind.FOREIGN_KEY:
        if segment.key is not None:
            raise NotFound(f"{rel.name} names one entity and takes no id: {path.text!r}")
        async with store.reader() as conn:
            linked = await foreign_key(conn, reader, target.etype, parent_id, rel.column)
        if linked is None:
            raise NotFound(f"{target.etype.name}({parent_id}) has no {rel.name}")
        return Target(other, Scope(other).with_id(linked), True, entity_id=linked)
    if rel.kind is RelationKind.REVERSE_KEY:
        scope = Scope(other, [(f"t.{rel.column} = ?", (parent_id,))])
    else:
        scope = Scope(other, [(
            f"t.id IN (SELECT {rel.link_other} FROM {rel.link_table} WHERE {rel.link_self} = ?)",
            (parent_id,),
        )])
    nav = Target(other, scope, single=False, parent=(rel, IdRef(target.etype, parent_id)))
    return _by_id(nav, segment.key) if segment.key is not None else nav


def _only_by_id(target: Target) -> bool:
    """The target is ``Set(id)`` with nothing else narrowing it."""
    return target.single and len(target.scope.conditions) == 1 and target.parent is None


async def _existing_id(store: Store, reader: Reader, target: Target, path: ResourcePath) -> int:
    async with store.reader() as conn:
        found = await first_id(conn, reader, target.scope)
    if found is None:
        what = f"{target.etype.name}({target.entity_id})" if target.entity_id else target.etype.name
        raise NotFound(f"no {what} on the path {path.text!r}")
    return found
