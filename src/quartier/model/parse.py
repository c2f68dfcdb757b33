"""Turning SensorThings JSON bodies into a :class:`Batch` (deep insert, links, updates).

Everything is validated here, before the store is touched: a body with one bad nested
entity yields a 400 and no change at all.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from quartier.errors import BadRequest
from quartier.model.changes import Batch, Create, IdRef, Link, NewRef, Reassign, Ref, Update
from quartier.model.entities import ENTITY_TYPES, EntityType, Relation, RelationKind
from quartier.model.swe import parse_data_record
from quartier.model.times import _json_kind, now_utc
from quartier.model.values import check_encoding, parse_property

_MAX_ID = 2**63 - 1
_MAX_DEPTH = 16


def parse_id(raw: Any, what: str) -> int:
    """An ``@iot.id`` from a body: a whole number (a numeric string is accepted too)."""
    if isinstance(raw, bool):
        raise BadRequest(f"{what} must be a whole number, not a boolean")
    if isinstance(raw, str) and raw.strip().isascii() and raw.strip().isdigit():
        raw = int(raw.strip())
    if not isinstance(raw, int) or raw < 0:
        raise BadRequest(f"{what} must be a non-negative whole number, not {raw!r}")
    if raw > _MAX_ID:
        raise BadRequest(f"{what} {raw} is out of range")
    return raw


def known_members(body: dict[str, Any], known: set[str] | frozenset[str], what: str) -> None:
    """400 naming the first member of ``body`` that is not in ``known``."""
    unknown = set(body) - known
    if unknown:
        raise BadRequest(f"{what} has no member {sorted(unknown)[0]!r}; known: "
                         f"{', '.join(sorted(known))}")


def _ignored_key(key: str) -> bool:
    # Clients echo server annotations back (selfLink, navigationLink); they carry no data.
    return "@" in key and (key.startswith("@iot.") or key.endswith("@iot.navigationLink")
                           or key.endswith("@iot.selfLink"))


def _unknown(etype: EntityType, key: str) -> BadRequest:
    known = [p.name for p in etype.properties if not p.derived] + [r.name for r in etype.relations]
    return BadRequest(
        f"{etype.name} has no property or relation {key!r}; known: {', '.join(known)}"
    )


def parse_members(
    etype: EntityType, body: Any
) -> tuple[dict[str, Any], list[tuple[Relation, Any]]]:
    """The body's parsed property values, and its relations with their raw JSON."""
    if not isinstance(body, dict):
        raise BadRequest(f"the {etype.name} must be a JSON object, not {_json_kind(body)}")
    values: dict[str, Any] = {}
    relations: list[tuple[Relation, Any]] = []
    for key, raw in body.items():
        if _ignored_key(key):
            continue
        member = etype.member(key)
        if member is None:
            raise _unknown(etype, key)
        if isinstance(member, Relation):
            relations.append((member, raw))
        elif not member.derived:
            values[key] = parse_property(etype, member, raw)
    return values, relations


def _link_id(etype: EntityType, item: dict[str, Any], what: str) -> IdRef | None:
    if item.get("@iot.id") is None:
        return None
    return IdRef(etype, parse_id(item["@iot.id"], f"{what}.@iot.id"))


class _CreateParser:
    def __init__(self) -> None:
        self.batch = Batch()

    def entity(
        self,
        etype: EntityType,
        body: Any,
        what: str,
        parent: tuple[Relation, Ref] | None = None,
        depth: int = 0,
    ) -> Ref:
        """Add the creates (or link) for one JSON entity; return its reference."""
        if depth > _MAX_DEPTH:
            raise BadRequest(f"{what}: nesting deeper than {_MAX_DEPTH} levels")
        if not isinstance(body, dict):
            raise BadRequest(f"{what} must be a JSON object, not {_json_kind(body)}")
        existing = _link_id(etype, body, what)
        if existing is not None:
            if parent is not None:  # an existing child listed under a new parent
                self.batch.add(Reassign(existing, parent[0], parent[1]))
            return existing

        values, relations = parse_members(etype, body)
        to_one: dict[str, Ref] = {}
        later: list[tuple[Relation, Any]] = []
        for member, raw in relations:
            key = member.name
            if member.kind is RelationKind.FOREIGN_KEY:
                if parent is not None and parent[0].name == key:
                    raise BadRequest(f"{what}.{key} is given by the request path already")
                target = ENTITY_TYPES[member.target]
                to_one[key] = self.entity(target, raw, f"{what}.{key}", None, depth + 1)
            else:
                later.append((member, raw))
        if parent is not None:
            to_one[parent[0].name] = parent[1]
        self._complete(etype, values, to_one, what)

        ref = NewRef(etype, len(self.batch.changes))
        self.batch.add(Create(etype, values, to_one))
        # Links first: a Thing's Locations must be there before Observations deeper in the
        # body look for one to make their FeatureOfInterest from, whatever the member order.
        later.sort(key=lambda item: item[0].kind is not RelationKind.LINK_TABLE)
        for relation, raw in later:
            self.children(relation, ref, raw, f"{what}.{relation.name}", depth)
        return ref

    def children(self, relation: Relation, owner: Ref, raw: Any, what: str, depth: int) -> None:
        if not isinstance(raw, list):
            raise BadRequest(f"{what} must be a JSON array of entities, not {_json_kind(raw)}")
        target = ENTITY_TYPES[relation.target]
        for index, item in enumerate(raw):
            item_what = f"{what}[{index}]"
            if relation.kind is RelationKind.REVERSE_KEY:
                back = target.find_relation(relation.inverse)
                assert back is not None
                self.entity(target, item, item_what, (back, owner), depth + 1)
            else:
                child = self.entity(target, item, item_what, None, depth + 1)
                self.batch.add(Link(relation, owner, child))

    @staticmethod
    def _complete(
        etype: EntityType, values: dict[str, Any], to_one: dict[str, Ref], what: str
    ) -> None:
        if etype.name == "Observation":
            values.setdefault("phenomenonTime", (now_utc(), None))
            values.setdefault("resultTime", None)
            if "result" not in values:
                raise BadRequest(f"{what}: Observation.result is required (it may be null)")
        properties, relations = _required(etype)
        for name in properties:
            if values.get(name) is None:
                raise BadRequest(f"{etype.name}.{name} is required{_at(what, etype)}")
        for name in relations:
            if name not in to_one:
                raise BadRequest(
                    f"{etype.name} needs a {name}{_at(what, etype)}, either nested or as "
                    f'{{"@iot.id": …}}'
                )
        check_encoding(etype, values)
        _check_data_record(etype, values)


@cache
def _required(etype: EntityType) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The names of the properties (but an Observation's result, which may be null) and of
    the relations a new entity of ``etype`` must have."""
    return (tuple(p.name for p in etype.properties if p.required and p.name != "result"),
            tuple(r.name for r in etype.relations if r.required))


def _check_data_record(etype: EntityType, values: dict[str, Any]) -> None:
    """A TaskingCapability's taskingParameters must be a DataRecord Tasks can be checked
    against (a Task's own are checked against it when it is written)."""
    if etype.name == "TaskingCapability" and values.get("taskingParameters") is not None:
        parse_data_record(values["taskingParameters"], "TaskingCapability.taskingParameters")


def _at(what: str, etype: EntityType) -> str:
    """Where a nested entity sits in the body, for messages; nothing at the top."""
    return "" if what == etype.name else f" (at {what})"


def parse_create(
    etype: EntityType, body: Any, parent: tuple[Relation, Ref] | None = None,
    into: Batch | None = None,
) -> tuple[Batch, Ref]:
    """The batch for a POST of ``body`` to an entity set, or to a parent's collection.

    ``parent`` is the relation seen from the parent (e.g. ``Thing.Datastreams``) and the
    parent itself, when the POST went to ``Things(1)/Datastreams``. With ``into``, the
    changes are added to that batch (a change set of a ``$batch``).
    """
    parser = _CreateParser()
    if into is not None:
        parser.batch = into
    what = etype.name
    if isinstance(body, dict) and body.get("@iot.id") is not None:
        raise BadRequest(
            f"@iot.id is chosen by the server: leave it out to create a {etype.name}"
        )
    if parent is None:
        return parser.batch, parser.entity(etype, body, what)
    relation, owner = parent
    if relation.kind is RelationKind.REVERSE_KEY:
        back = etype.find_relation(relation.inverse)
        assert back is not None
        root = parser.entity(etype, body, what, (back, owner))
    elif relation.kind is RelationKind.LINK_TABLE:
        root = parser.entity(etype, body, what)
        parser.batch.add(Link(relation, owner, root))
    else:
        raise BadRequest(
            f"cannot create an entity through the single-valued navigation {relation.name}; "
            f"POST to {etype.plural} instead"
        )
    return parser.batch, root


def parse_update(
    etype: EntityType, entity_id: int, body: Any, replace: bool, into: Batch | None = None
) -> Batch:
    """The batch for a PATCH (merge) or, with ``replace``, a PUT of one entity."""
    what = f"{etype.name}({entity_id})"
    if not isinstance(body, dict):
        raise BadRequest(f"the body must be a JSON object, not {_json_kind(body)}")
    values, relations = parse_members(etype, body)
    foreign_keys: dict[str, Ref] = {}
    replace_links: dict[str, list[Ref]] = {}
    reassign: list[Reassign] = []
    target = IdRef(etype, entity_id)
    for member, raw in relations:
        key = member.name
        other = ENTITY_TYPES[member.target]
        if member.kind is RelationKind.FOREIGN_KEY:
            foreign_keys[key] = _only_link(other, raw, f"{what}.{key}")
            continue
        if not isinstance(raw, list):
            raise BadRequest(f"{what}.{key} must be a JSON array of links, not {_json_kind(raw)}")
        refs = [_only_link(other, item, f"{what}.{key}[{i}]") for i, item in enumerate(raw)]
        if member.kind is RelationKind.LINK_TABLE:
            replace_links[key] = list[Ref](refs)
        else:
            back = other.find_relation(member.inverse)
            assert back is not None
            reassign.extend(Reassign(ref, back, target) for ref in refs)
    if replace:
        for prop in etype.properties:
            if prop.derived or prop.name in values:
                continue
            if prop.required:
                raise BadRequest(f"PUT replaces the whole {etype.name}: {prop.name} is required")
            values[prop.name] = None
    for prop in etype.properties:
        if prop.name in values and values[prop.name] is None and not prop.nullable:
            raise BadRequest(f"{etype.name}.{prop.name} may not be null")
    check_encoding(etype, values)
    _check_data_record(etype, values)
    batch = Batch() if into is None else into
    batch.add(Update(target, values, foreign_keys, replace_links))
    for change in reassign:
        batch.add(change)
    return batch


def _only_link(etype: EntityType, raw: Any, what: str) -> IdRef:
    if not isinstance(raw, dict):
        raise BadRequest(f"{what} must be a link {{\"@iot.id\": …}}, not {_json_kind(raw)}")
    ref = _link_id(etype, raw, what)
    if ref is None:
        raise BadRequest(
            f"{what}: an update can only link existing entities by {{\"@iot.id\": …}}; "
            f"create the {etype.name} first"
        )
    return ref
