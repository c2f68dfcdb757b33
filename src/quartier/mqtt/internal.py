"""Internal entities on MQTT: never on the public topics.

Anyone may subscribe to a broker's topics, so the SensorThings topics (``v1.1/…``,
``t/<tenant>/v1.1/…``) carry only what an anonymous reader may GET: public Things and
Datastreams and what hangs off them (:mod:`quartier.store.visibility`). A change of an
internal entity is published, when ``mqtt_internal_prefix`` is set, under that prefix
instead (``internal/v1.1/Datastreams(7)/Observations``, ``internal/t/nord/v1.1/…``),
which a broker ACL keeps to the principals allowed to read it (``quartier mqtt acl``
writes one for Mosquitto); without the prefix it is not published at all. ``$select``
topics are public topics: internal changes never go there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from quartier.errors import BadRequest, NotFound
from quartier.model.changes import ChangeEvent
from quartier.model.entities import ENTITY_TYPES
from quartier.mqtt.topics import DEFAULT_TENANT, VERSION, tenant_root
from quartier.store import Store, visibility

# The entity types whose rows may be internal, and the table whose row decides it.
_DECIDED_BY = {"Thing": "Thing", "Datastream": "Datastream", "HistoricalLocation": "HistoricalLocation",
               "Location": "Location", "Observation": "Datastream"}


async def internal_changes(store: Store, events: Sequence[ChangeEvent],
                           created: Mapping[tuple[str, int], Mapping[str, Any]]) -> set[tuple[str, int]]:
    """(entity type, id) of the changed entities an anonymous reader may not see.
    ``created``: the rows of new entities, as the announcer read them."""
    wanted: dict[str, set[int]] = {}
    observation_streams: dict[int, int] = {}
    unread: list[int] = []
    for event in events:
        if event.entity_type not in _DECIDED_BY or event.operation == "delete":
            continue
        if event.entity_type == "Observation":
            row = created.get(("Observation", event.id))
            if row is not None and row.get("Datastream") is not None:
                observation_streams[event.id] = int(row["Datastream"])
            else:
                unread.append(event.id)
        else:
            wanted.setdefault(event.entity_type, set()).add(event.id)
    internal: set[tuple[str, int]] = set()
    token = visibility.public_only.set(True)
    try:
        async with store.reader() as conn:
            for start in range(0, len(unread), 500):
                part = unread[start:start + 500]
                among, params = store.dialect.among("id", part)
                rows = await conn.fetch(
                    f"SELECT id, datastream_id FROM observations WHERE {among}", params)
                observation_streams.update({int(r[0]): int(r[1]) for r in rows})
            if observation_streams:
                wanted.setdefault("Datastream", set()).update(observation_streams.values())
            public: dict[str, set[int]] = {}
            for name, ids in wanted.items():
                public[name] = await _public(conn, store, name, sorted(ids))
    finally:
        visibility.public_only.reset(token)
    for event in events:
        if event.entity_type not in _DECIDED_BY or event.operation == "delete":
            continue
        if event.entity_type == "Observation":
            stream = observation_streams.get(event.id)
            if stream is None or stream not in public.get("Datastream", set()):
                internal.add(("Observation", event.id))
        elif event.id not in public.get(event.entity_type, set()):
            internal.add((event.entity_type, event.id))
    return internal


async def _public(conn: Any, store: Store, name: str, ids: list[int]) -> set[int]:
    etype = ENTITY_TYPES[name]
    condition = visibility.condition(etype, "t")
    out: set[int] = set()
    for start in range(0, len(ids), 500):
        part = ids[start:start + 500]
        among, params = store.dialect.among("t.id", part)  # one statement for any count
        where = among + (f" AND {condition}" if condition else "")
        rows = await conn.fetch(f"SELECT t.id FROM {etype.table} t WHERE {where}", params)
        out.update(int(r[0]) for r in rows)
    return out


def internal_topic(prefix: str, internal_prefix: str, topic: str) -> str:
    """The internal counterpart of a public topic: ``internal_prefix`` after ``prefix``."""
    return prefix + internal_prefix + topic[len(prefix):]


@dataclass(frozen=True)
class DeviceUser:
    """A broker user that stands for one device: it may publish Observations only to the
    Datastreams of its Thing (``root`` is the tenant's topic root, e.g. ``v1.1/``)."""

    name: str
    root: str
    datastreams: tuple[int, ...]


def acl(prefix: str, internal_prefix: str, server: str, readers: Sequence[str],
        devices: Sequence[DeviceUser] = (), closed: bool = False) -> str:
    """A Mosquitto ``acl_file``: anyone reads the public topics and (unless ``closed``)
    publishes to the topics that create; ``server`` (Quartier's own MQTT user) may do
    everything; each reader (``NAME`` for every tenant, ``NAME:TENANT`` for one) also
    reads the internal topics; each device user publishes only to its Datastreams."""
    public = [f"{prefix}{VERSION}/#", f"{prefix}t/+/{VERSION}/#"]
    creating = [f"{root}{path}" for root in (f"{prefix}{VERSION}/", f"{prefix}t/+/{VERSION}/")
                for path in ("Observations", "+/Observations", "Tasks", "+/Tasks")]
    reading = [f"topic read {t}" for t in public]
    common = reading + ([] if closed else [f"topic write {t}" for t in creating])
    lines = ["# Written by 'quartier mqtt acl' for Mosquitto (acl_file). Anonymous clients:",
             *common, "", f"user {server}", "topic readwrite #", "topic read $SYS/broker/log/#"]
    for reader in readers:
        name, _, tenant = reader.partition(":")
        if not internal_prefix:
            break
        own = (f"{prefix}{internal_prefix}#" if not tenant else
               f"{prefix}{internal_prefix}{VERSION}/#" if tenant == "default" else
               f"{prefix}{internal_prefix}t/{tenant}/{VERSION}/#")
        lines += ["", f"user {name}", *common, f"topic read {own}"]
    for device in devices:
        lines += ["", f"user {device.name}", *reading,
                  *(f"topic write {device.root}Datastreams({ds})/Observations"
                    for ds in device.datastreams)]
    return "\n".join(lines) + "\n"


async def device_users(store: Store, prefix: str, specs: Sequence[str]) -> list[DeviceUser]:
    """The :class:`DeviceUser` of each ``NAME:THING_ID[:TENANT]``, its Datastreams read
    from the store; 400 for a malformed one, 404 for a Thing the tenant does not have."""
    users = []
    for spec in specs:
        name, _, rest = spec.partition(":")
        thing, _, tenant = rest.partition(":")
        tenant = tenant or DEFAULT_TENANT
        if not name or not thing.isdigit():
            raise BadRequest(f"--device takes NAME:THING_ID or NAME:THING_ID:TENANT, not {spec!r}")
        tenant_id = await store.tenant_id(tenant)
        if tenant_id is None:
            raise NotFound(f"no tenant {tenant!r}")
        async with store.reader() as conn:
            if await conn.fetchval("SELECT id FROM things WHERE id = ? AND tenant_id = ?",
                                   (int(thing), tenant_id)) is None:
                raise NotFound(f"tenant {tenant!r} has no Thing {thing}")
            rows = await conn.fetch("SELECT id FROM datastreams WHERE thing_id = ? AND "
                                    "tenant_id = ? ORDER BY id", (int(thing), tenant_id))
        users.append(DeviceUser(name, tenant_root(prefix, tenant), tuple(int(r[0]) for r in rows)))
    return users
