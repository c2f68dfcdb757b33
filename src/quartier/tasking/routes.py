"""Where a Task goes: the request that carries it to its device.

* A TaskingCapability whose ``properties/mqtt/topic`` is set: the Task as JSON
  (``{"task", "thing", "taskingParameters"}``) on that topic of the platform's broker.
* Otherwise its Thing's LoRaWAN device (the device registry), through the tenant's
  integration that has ``downlink`` settings (``properties/integration`` names one when
  there are several), encoded by the device's command encoder.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from quartier.lorawan import downlinks, integrations
from quartier.lorawan.downlinks import Request
from quartier.model.values import JSON
from quartier.store import Store
from quartier.store.connection import Connection
from quartier.tasking.encoders import Encoder, find


class Undeliverable(Exception):
    """The Task cannot reach its device however often it is tried; the message says why."""


@dataclass(frozen=True)
class Route:
    request: Request
    what: str  # for logs and reasons: "The Things Stack", "ChirpStack", "MQTT"


async def encoder_of(conn: Connection, tenant_id: int, properties: dict[str, Any],
                     thing_id: int) -> tuple[Encoder | None, str | None]:
    """The capability's encoder (by ``properties/encoder`` or its device's profile) and
    its name."""
    name = properties.get("encoder")
    if not isinstance(name, str):
        name = await conn.fetchval(
            "SELECT p.name FROM devices d JOIN device_profiles p ON p.id = d.profile_id "
            "WHERE d.thing_id = ? AND d.tenant_id = ? ORDER BY d.id LIMIT 1", (thing_id, tenant_id))
    return find(name), name


async def route(store: Store, tenant_id: int, task_id: int) -> Route:
    decode = store.dialect.decode
    async with store.reader() as conn:
        row = await conn.fetchrow(
            "SELECT t.tasking_parameters, c.properties, c.thing_id FROM tasks t "
            "JOIN tasking_capabilities c ON c.id = t.tasking_capability_id "
            "WHERE t.id = ? AND t.tenant_id = ?", (task_id, tenant_id))
        if row is None:
            raise Undeliverable(f"Task {task_id} is gone")
        parameters: dict[str, Any] = decode(JSON, row[0])
        properties = decode(JSON, row[1]) or {}
        thing_id = int(row[2])
        topic = (properties.get("mqtt") or {}).get("topic") if isinstance(
            properties.get("mqtt"), dict) else None
        if isinstance(topic, str) and topic:
            body = {"task": task_id, "thing": thing_id, "taskingParameters": parameters}
            return Route(Request(body, topic=topic), "MQTT")
        device = await conn.fetchrow(
            "SELECT dev_eui, name FROM devices WHERE thing_id = ? AND tenant_id = ? "
            "ORDER BY id LIMIT 1", (thing_id, tenant_id))
        if device is None:
            raise Undeliverable(f"Thing {thing_id} has no LoRaWAN device in the registry, and "
                                "its TaskingCapability names no properties/mqtt/topic")
        encoder, name = await encoder_of(conn, tenant_id, properties, thing_id)
    if encoder is None:
        raise Undeliverable(f"no command encoder {name!r} for Thing {thing_id}; name one in the "
                            "TaskingCapability's properties/encoder")
    wanted = properties.get("integration")
    found = [i for i in await integrations.listing(store, tenant_id)
             if i.downlink is not None and (wanted is None or i.name == wanted)]
    if not found:
        raise Undeliverable("no LoRaWAN integration " + (f"{wanted!r} " if wanted else "")
                            + "of this tenant has downlink settings")
    integration = found[0]
    assert integration.downlink is not None
    try:
        downlink = encoder.encode(parameters)
    except Exception as exc:  # a plug-in's bug or a parameter it cannot encode
        raise Undeliverable(f"the encoder {name!r} could not encode {parameters}: {exc}") from None
    request = downlinks.request(integration.network, integration.downlink,
                                integration.downlink_key, str(device[0]), str(device[1]), downlink)
    what = "The Things Stack" if integration.network == "tts" else "ChirpStack"
    return Route(request, what + (" over MQTT" if request.topic else ""))
