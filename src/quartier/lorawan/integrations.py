"""Integrations: how a network server's uplinks reach a tenant.

An integration has a name, a network (``tts`` for The Things Stack v3, ``chirpstack`` for
ChirpStack v4) and a secret. The network server's webhook (TTS) or HTTP integration
(ChirpStack) posts to ``/api/lorawan/{name}/uplink`` with the header
``Authorization: Bearer <secret>``. Only a SHA-256 hash of the secret is stored; the secret
itself is shown once, when the integration is created. (The secret is 256 random bits, so
a fast hash is enough: nothing can be guessed from it.)

An integration may also name an MQTT broker and topic (the network server's MQTT
integration); each server process then subscribes there (see :mod:`quartier.lorawan.mqtt`).
Its ``downlink`` settings say where Tasks go to its devices
(:mod:`quartier.lorawan.downlinks`); their API key is kept but never shown.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Any, NoReturn

from quartier.errors import BadRequest, Conflict, NotFound, QuartierError
from quartier.lorawan.downlinks import parse_downlink
from quartier.model.parse import known_members
from quartier.model.values import JSON
from quartier.mqtt.link import broker_address
from quartier.redact import url_without_password
from quartier.store import Store

NETWORKS = ("tts", "chirpstack")
# What each network server's MQTT integration publishes uplinks on.
DEFAULT_TOPICS = {"tts": "v3/+/devices/+/up", "chirpstack": "application/+/device/+/event/up"}
_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
_KEYS = {"name", "network", "mqtt", "downlink"}
_COLUMNS = ("id, tenant_id, name, network, secret_hash, mqtt_url, mqtt_topic, downlink, "
            "downlink_key")


class Unauthorized(QuartierError):
    status = 401
    code = "unauthorized"


@dataclass(frozen=True)
class Integration:
    id: int
    tenant_id: int
    name: str
    network: str
    secret_hash: str
    mqtt_url: str | None  # None with a topic: the platform's own broker (--mqtt)
    mqtt_topic: str | None
    downlink: dict[str, Any] | None = None  # where Tasks go (without the key)
    downlink_key: str | None = None  # the network server's API key: never shown

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "network": self.network}
        if self.mqtt_topic is not None:
            out["mqtt"] = {"url": url_without_password(self.mqtt_url), "topic": self.mqtt_topic}
        if self.downlink is not None:
            out["downlink"] = {**self.downlink, "apiKeySet": self.downlink_key is not None}
        return out

    def __repr__(self) -> str:  # never the key, not even in a traceback
        return f"Integration({self.id}, {self.name!r}, {self.network!r})"

    def accepts(self, secret: str) -> bool:
        return hmac.compare_digest(_hash(secret), self.secret_hash)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def parse_integration(body: Any) -> tuple[str, str, str | None, str | None]:
    """(name, network, mqtt url, mqtt topic) from ``POST /api/lorawan/integrations``
    (its ``downlink`` is read by :func:`create`)."""
    if not isinstance(body, dict):
        raise BadRequest('an integration is a JSON object: {"name": "ttn-stadt", "network": "tts"}')
    known_members(body, _KEYS, "an integration")
    name = body.get("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise BadRequest(f"name must be 1 to 63 lower-case letters, digits and dashes, not {name!r}")
    network = body.get("network")
    if network not in NETWORKS:
        raise BadRequest(f"network must be one of {', '.join(NETWORKS)}, not {network!r}")
    mqtt = body.get("mqtt")
    if mqtt is None:
        return name, network, None, None
    if not isinstance(mqtt, dict) or not set(mqtt) <= {"url", "topic"}:
        raise BadRequest('mqtt is {"url": "mqtt://user:key@host:1883", "topic": "…"}; without a '
                         "url the platform's own broker is used, without a topic the network "
                         "server's usual one")
    url = mqtt.get("url")
    if url is not None:
        if not isinstance(url, str):
            raise BadRequest("mqtt.url must be a string")
        try:
            broker_address(url)
        except QuartierError as exc:
            raise BadRequest(f"mqtt.url: {exc.message}") from None
    topic = mqtt.get("topic", DEFAULT_TOPICS[network])
    if not isinstance(topic, str) or not topic or "#" in topic[:-1] or "\x00" in topic:
        raise BadRequest(f"mqtt.topic must be an MQTT topic filter, not {topic!r}")
    return name, network, url, topic


async def create(store: Store, tenant_id: int, body: Any) -> tuple[Integration, str]:
    """Store a new integration; returns it and its secret (which is not kept)."""
    name, network, url, topic = parse_integration(body)
    downlink, key = (None, None) if body.get("downlink") is None else parse_downlink(
        network, body["downlink"])
    secret = secrets.token_urlsafe(32)
    async with store.transaction() as conn:
        row = await conn.fetchrow(
            "INSERT INTO lorawan_integrations (tenant_id, name, network, secret_hash, mqtt_url, "
            "mqtt_topic, downlink, downlink_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT DO NOTHING RETURNING " + _COLUMNS,
            (tenant_id, name, network, _hash(secret), url, topic,
             None if downlink is None else store.dialect.encode(JSON, downlink), key))
    if row is None:
        raise Conflict(f"an integration named {name!r} exists already")
    return _from_row(store, row), secret


async def find(store: Store, tenant_id: int, name: str) -> Integration:
    async with store.reader() as conn:
        row = await conn.fetchrow(
            f"SELECT {_COLUMNS} FROM lorawan_integrations WHERE tenant_id = ? AND name = ?",
            (tenant_id, name))
    if row is None:
        raise NotFound(f"no LoRaWAN integration {name!r}")
    return _from_row(store, row)


async def listing(store: Store, tenant_id: int | None = None) -> list[Integration]:
    """The integrations of a tenant, or of every tenant."""
    where, params = ("WHERE tenant_id = ?", (tenant_id,)) if tenant_id is not None else ("", ())
    async with store.reader() as conn:
        rows = await conn.fetch(
            f"SELECT {_COLUMNS} FROM lorawan_integrations {where} ORDER BY id", params)
    return [_from_row(store, row) for row in rows]


async def delete(store: Store, tenant_id: int, name: str) -> None:
    async with store.transaction() as conn:
        gone = await conn.fetchval(
            "DELETE FROM lorawan_integrations WHERE tenant_id = ? AND name = ? RETURNING id",
            (tenant_id, name))
    if gone is None:
        raise NotFound(f"no LoRaWAN integration {name!r}")


_REFUSAL = ("this webhook needs the integration's secret in the header "
            "'Authorization: Bearer <secret>'")


def refuse() -> NoReturn:
    """401, the same for an unknown integration as for a wrong secret: nothing is revealed."""
    raise Unauthorized(_REFUSAL)


def check_secret(integration: Integration, authorization: str | None) -> None:
    """401 unless ``authorization`` is ``Bearer <the integration's secret>``."""
    scheme, _, secret = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not secret.strip() or not integration.accepts(secret.strip()):
        raise Unauthorized(_REFUSAL)


def _from_row(store: Store, row: Any) -> Integration:
    return Integration(int(row[0]), int(row[1]), str(row[2]), str(row[3]), str(row[4]), row[5],
                       row[6], store.dialect.decode(JSON, row[7]), row[8])
