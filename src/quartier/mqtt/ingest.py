"""Creating Observations and Tasks from MQTT messages: the same POST as over HTTP.

:func:`create_from_message` runs a message through the HTTP handlers, one at a time.
:class:`MessageBatches` turns the messages of one read into write batches with the same
checks and the same errors, but resolves each topic's path once and keeps it, so that a
burst of messages costs one routing per topic rather than one per message.
"""

from __future__ import annotations

from typing import Any

from quartier.api.body import parse_json
from quartier.api.sensorthings.handlers import Call, Context, Reply, SensorThingsApi
from quartier.errors import BadRequest, NotFound
from quartier.model.changes import Batch
from quartier.model.parse import parse_create
from quartier.mqtt.topics import DEFAULT_TENANT, VERSION, parse_create_topic
from quartier.query.path import Target, parse_path, resolve

SOURCE = "mqtt"
_TOPICS_KEPT = 20_000  # topics whose resolved path is kept


def link_base(root: str, tenant: str) -> str:
    """The base of a tenant's links, as its HTTP requests have it."""
    middle = "" if tenant == DEFAULT_TENANT else f"/t/{tenant}"
    return f"{root.rstrip('/')}{middle}/{VERSION}"


async def tenant_of(api: SensorThingsApi, prefix: str, topic: str) -> int | None:
    """The tenant a topic that creates entities belongs to, if it names one."""
    parsed = parse_create_topic(prefix, topic)
    return None if parsed is None else await api.store.tenant_id(parsed[0])


async def _route(api: SensorThingsApi, prefix: str, topic: str) -> tuple[str, int, str]:
    """(tenant name, tenant id, path) of a topic that creates Observations; 404 otherwise."""
    parsed = parse_create_topic(prefix, topic)
    if parsed is None:
        raise NotFound(
            f"{topic!r} is not a topic that creates entities: publish to "
            f"{prefix}v1.1/Observations, {prefix}v1.1/Datastreams(id)/Observations, "
            f"{prefix}v1.1/FeaturesOfInterest(id)/Observations, {prefix}v1.1/Tasks or "
            f"{prefix}v1.1/TaskingCapabilities(id)/Tasks"
        )
    tenant, path = parsed
    tenant_id = await api.store.tenant_id(tenant)
    if tenant_id is None:
        raise NotFound(f"no tenant {tenant!r}")
    return tenant, tenant_id, path


def _body(payload: bytes) -> dict[str, Any]:
    body = parse_json(payload)
    if not isinstance(body, dict):
        raise BadRequest("an MQTT message that creates an Observation or a Task holds one JSON "
                         "object")
    return body


async def create_from_message(
    api: SensorThingsApi, prefix: str, root: str, topic: str, payload: bytes
) -> Reply:
    """POST the message's JSON to the path its topic names; QuartierError when that
    cannot be stored (the same 4xx an HTTP client would get). ``root`` is the public
    address that links start with, e.g. ``http://127.0.0.1:8080``."""
    tenant, tenant_id, path = await _route(api, prefix, topic)
    body = _body(payload)

    async def read_body() -> Any:
        return body

    ctx = Context(api.store, api.settings, tenant_id, link_base(root, tenant))
    return await api.execute(ctx, Call("POST", path, [], "application/json", read_body))


class MessageBatches:
    """Messages to write batches, as :func:`create_from_message` would write them."""

    def __init__(self, api: SensorThingsApi, prefix: str) -> None:
        self.api = api
        self.prefix = prefix
        # A create topic's path never needs the database to resolve (the write checks the
        # parent it names), so what it resolves to holds for as long as the tenant exists.
        self._targets: dict[str, tuple[int, Target]] = {}

    async def batch(self, topic: str, payload: bytes) -> tuple[int, Batch]:
        """(tenant id, batch) of one message; QuartierError as the POST would raise it."""
        known = self._targets.get(topic)
        if known is None:
            _, tenant_id, path = await _route(self.api, self.prefix, topic)
            target = await resolve(self.api.store, tenant_id, parse_path(path), for_create=True)
            if len(self._targets) >= _TOPICS_KEPT:
                self._targets.clear()
            known = self._targets[topic] = (tenant_id, target)
        tenant_id, target = known
        batch, _ = parse_create(target.etype, _body(payload), target.parent)
        return tenant_id, batch
