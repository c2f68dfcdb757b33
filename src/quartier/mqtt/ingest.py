"""Creating Observations and Tasks from MQTT messages: the same POST as over HTTP."""

from __future__ import annotations

from typing import Any

from quartier.api.body import parse_json
from quartier.api.sensorthings.handlers import Call, Context, Reply, SensorThingsApi
from quartier.errors import BadRequest, NotFound
from quartier.mqtt.topics import DEFAULT_TENANT, VERSION, parse_create_topic

SOURCE = "mqtt"


def link_base(root: str, tenant: str) -> str:
    """The base of a tenant's links, as its HTTP requests have it."""
    middle = "" if tenant == DEFAULT_TENANT else f"/t/{tenant}"
    return f"{root.rstrip('/')}{middle}/{VERSION}"


async def tenant_of(api: SensorThingsApi, prefix: str, topic: str) -> int | None:
    """The tenant a topic that creates entities belongs to, if it names one."""
    parsed = parse_create_topic(prefix, topic)
    return None if parsed is None else await api.store.tenant_id(parsed[0])


async def create_from_message(
    api: SensorThingsApi, prefix: str, root: str, topic: str, payload: bytes
) -> Reply:
    """POST the message's JSON to the path its topic names; QuartierError when that
    cannot be stored (the same 4xx an HTTP client would get). ``root`` is the public
    address that links start with, e.g. ``http://127.0.0.1:8080``."""
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
    body = parse_json(payload)
    if not isinstance(body, dict):
        raise BadRequest("an MQTT message that creates an Observation or a Task holds one JSON "
                         "object")

    async def read_body() -> Any:
        return body

    ctx = Context(api.store, api.settings, tenant_id, link_base(root, tenant))
    return await api.execute(ctx, Call("POST", path, [], "application/json", read_body))
