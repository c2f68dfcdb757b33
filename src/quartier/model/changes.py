"""A batch of entity changes: what every ingest route hands to ``Store.write``.

References let one batch create entities that point at each other (a deep insert): a
:class:`NewRef` names an earlier :class:`Create` of the same batch, an :class:`IdRef` an
entity already stored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from quartier.errors import QuartierError
from quartier.model.entities import EntityType, Relation


@dataclass(frozen=True)
class IdRef:
    etype: EntityType
    id: int
    # Named by the request path (POST Datastreams(1)/Observations): missing means 404.
    from_path: bool = field(default=False, compare=False)


@dataclass(frozen=True)
class NewRef:
    etype: EntityType
    index: int  # position of the Create in the batch


Ref = IdRef | NewRef


@dataclass
class Create:
    etype: EntityType
    values: dict[str, Any]  # property name -> parsed value
    foreign_keys: dict[str, Ref] = field(default_factory=dict)  # relation name -> parent


@dataclass
class Link:
    """Add a row to a link table between two entities (e.g. a Thing and a Location)."""

    relation: Relation  # seen from ``owner``
    owner: Ref
    other: Ref


@dataclass
class Reassign:
    """Point an existing entity's foreign key at another parent."""

    child: IdRef
    relation: Relation  # the child's FOREIGN_KEY relation
    parent: Ref


@dataclass
class Update:
    target: IdRef
    values: dict[str, Any]
    foreign_keys: dict[str, Ref] = field(default_factory=dict)
    # LINK_TABLE relations whose links are replaced by the given set
    replace_links: dict[str, list[Ref]] = field(default_factory=dict)


@dataclass
class Delete:
    target: IdRef


Change = Create | Link | Reassign | Update | Delete


@dataclass
class Record:
    """A row of one of the platform's own tables, written after the batch's changes and in
    their transaction: a device's registration beside its Thing, or the mark that an
    uplink was stored, so that a redelivery of it is refused."""

    table: str
    # column -> value; a Ref becomes the entity's id, a dict of Refs a JSON map of ids
    values: dict[str, Any]
    # When set, the row must be new: if its unique key exists, the batch fails with this
    # error, and nothing of it is written.
    unique: QuartierError | None = None


@dataclass
class Batch:
    """Changes applied in order, in one transaction: all of them or none."""

    changes: list[Change] = field(default_factory=list)
    records: list[Record] = field(default_factory=list)

    def add(self, change: Change) -> int:
        self.changes.append(change)
        return len(self.changes) - 1


@dataclass(slots=True)
class ChangeEvent:
    """A committed change, published after the commit. Not to be changed once made; not
    frozen, though: a bulk write makes one per Observation, and a frozen dataclass takes
    about ten times as long to make (1 µs, a millisecond per 1,000 rows)."""

    tenant_id: int
    entity_type: str
    id: int
    operation: str  # "create", "update" or "delete"
    fields: tuple[str, ...] = ()
    # A created Observation's row as stored, when the write read it back anyway: what
    # announcing it needs, without another query.
    row: dict[str, Any] | None = field(default=None, compare=False, repr=False)
    # A created Observation written by COPY, where no row is read back: its Datastream,
    # phenomenonTime (start, end) and result, for the rules engine.
    facts: tuple[int, Any, Any] | None = field(default=None, compare=False, repr=False)
