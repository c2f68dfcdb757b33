"""SensorThings MQTT topics (OGC 18-088, section 14).

A committed change is announced on topics named like the HTTP paths that show it, and
each message is what a GET of that path answers:

* a new entity on its entity set (``v1.1/Observations``) and on each navigation path
  that now leads to it (``v1.1/Datastreams(1)/Observations``);
* a changed entity on its own topic (``v1.1/Things(1)``) and each changed property on
  the property's (``v1.1/Things(1)/name``, answered like ``GET Things(1)/name``).

Publishing an Observation to ``v1.1/Observations``, ``v1.1/Datastreams(id)/Observations``
or ``v1.1/FeaturesOfInterest(id)/Observations`` creates it, as a POST there would; so does
publishing a Task to ``v1.1/Tasks`` or ``v1.1/TaskingCapabilities(id)/Tasks`` (Part 2).

Topics of a tenant other than the default one start with ``t/<tenant>/``, as its HTTP
paths do, and all of them with the configured ``mqtt_prefix``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import NamedTuple

from quartier.model.entities import ENTITY_TYPES, EntityType, RelationKind

VERSION = "v1.1"
DEFAULT_TENANT = "default"
TENANT_NAME = r"[a-z0-9][a-z0-9-]{0,62}"  # as the tenant part of a topic may spell it
_CREATE = re.compile(
    rf"^(?:t/(?P<tenant>{TENANT_NAME})/)?" + re.escape(VERSION)
    + r"/(?P<path>Observations|(?:Datastreams|FeaturesOfInterest)\([0-9]{1,19}\)/Observations"
    + r"|Tasks|TaskingCapabilities\([0-9]{1,19}\)/Tasks)$"
)


class Notice(NamedTuple):
    """One message to publish: its topic, and the path whose GET answer it carries.
    (A named tuple: several are made for every announced change.)"""

    topic: str
    path: str


def tenant_root(prefix: str, tenant: str) -> str:
    """The start of a tenant's topics, e.g. ``v1.1/`` or ``city/t/nord/v1.1/``."""
    middle = "" if tenant == DEFAULT_TENANT else f"t/{tenant}/"
    return f"{prefix}{middle}{VERSION}/"


def notices(
    root: str, etype: EntityType, entity_id: int, operation: str, fields: tuple[str, ...],
    parents: Mapping[str, int | None], links: Mapping[str, Sequence[int]] | None = None,
) -> list[Notice]:
    """The messages for one committed change; ``parents`` holds a new entity's foreign
    keys by relation name, ``links`` the ids it is linked to through link tables.
    Deletions are not announced (the specification has no topic for them)."""
    own = f"{etype.plural}({entity_id})"
    if operation == "create":
        out = [Notice(root + etype.plural, own)]
        for rel in etype.relations:
            if not rel.inverse:
                continue
            target = ENTITY_TYPES[rel.target].plural
            parent_id = parents.get(rel.name)
            if rel.kind is RelationKind.FOREIGN_KEY and parent_id is not None:
                out.append(Notice(f"{root}{target}({parent_id})/{rel.inverse}", own))
            elif rel.kind is RelationKind.LINK_TABLE:
                out += [Notice(f"{root}{target}({other})/{rel.inverse}", own)
                        for other in (links or {}).get(rel.name, ())]
        return out
    if operation == "update":
        out = [Notice(root + own, own)]
        out += [Notice(f"{root}{own}/{name}", f"{own}/{name}")
                for name in fields if etype.find_property(name) is not None]
        return out
    return []


def create_subscriptions(prefix: str) -> list[str]:
    """Topic filters that cover every topic that creates Observations or Tasks, in all
    tenants."""
    return [
        f"{prefix}{root}{collection}"
        for root in (f"{VERSION}/", f"t/+/{VERSION}/")
        for collection in ("Observations", "+/Observations", "Tasks", "+/Tasks")
    ]


def parse_create_topic(prefix: str, topic: str) -> tuple[str, str] | None:
    """(tenant name, path below the version root) of a topic that creates Observations or
    Tasks, or None."""
    if not topic.startswith(prefix):
        return None
    found = _CREATE.match(topic[len(prefix):])
    if found is None:
        return None
    return found.group("tenant") or DEFAULT_TENANT, found.group("path")
