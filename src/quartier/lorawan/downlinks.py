"""Where and how a network server takes downlinks: an integration's ``downlink`` settings,
and the request each network documents.

* The Things Stack v3: ``POST {url}/api/v3/as/applications/{application}/webhooks/{webhook}
  /devices/{device}/down/push`` with ``{"downlinks": [{"f_port", "frm_payload" (base64),
  "priority"}]}`` and ``Authorization: Bearer <API key>``. The device id is
  ``eui-<devEui in lower case>`` unless ``deviceIds`` is ``"name"`` (the registry's name).
* ChirpStack v4: ``POST {url}/api/devices/{devEui}/queue`` with ``{"queueItem": {"fPort",
  "data" (base64), "confirmed"}}`` and ``Grpc-Metadata-Authorization: Bearer <API token>``.
* Either network over MQTT (``"via": "mqtt"``): the same JSON on ``topic`` of the
  platform's broker, with ``{devEui}`` and ``{deviceId}`` filled in (TTS:
  ``v3/{application}/devices/{deviceId}/down/push``; ChirpStack:
  ``application/<id>/device/{devEui}/command/down``, where the JSON also names the
  ``devEui``).

The API key is stored apart from the settings and never shown, logged or echoed.
"""

from __future__ import annotations

import base64
import re
import urllib.parse
from dataclasses import dataclass
from typing import Any

from quartier.errors import BadRequest
from quartier.model.parse import known_members

_TTS_KEYS = {"via", "url", "application", "webhook", "apiKey", "priority", "deviceIds", "topic"}
_CS_KEYS = {"via", "url", "apiKey", "confirmed", "topic"}
_PRIORITIES = ("LOWEST", "LOW", "BELOW_NORMAL", "NORMAL", "ABOVE_NORMAL", "HIGH", "HIGHEST")
_ID = re.compile(r"[a-z0-9](?:[-]?[a-z0-9]){0,35}")


@dataclass(frozen=True)
class Downlink:
    """One command for a device: its LoRaWAN port and payload."""

    f_port: int
    payload: bytes


@dataclass(frozen=True)
class Request:
    """What is sent: an HTTP POST (url, headers) or an MQTT message (topic)."""

    body: dict[str, Any]
    url: str | None = None
    headers: dict[str, str] | None = None
    topic: str | None = None


def parse_downlink(network: str, raw: Any) -> tuple[dict[str, Any], str | None]:
    """(settings to keep and show, API key) from an integration's ``downlink``."""
    what = "downlink"
    if not isinstance(raw, dict):
        raise BadRequest(f"{what} must be a JSON object")
    known_members(raw, _TTS_KEYS if network == "tts" else _CS_KEYS, what)
    via = raw.get("via", "api")
    if via not in ("api", "mqtt"):
        raise BadRequest(f"{what}.via must be api or mqtt, not {via!r}")
    config: dict[str, Any] = {"via": via}
    key = raw.get("apiKey")
    if via == "api":
        config["url"] = _url(raw.get("url"), f"{what}.url")
        if not isinstance(key, str) or not key.strip() or any(c in key for c in "\r\n"):
            raise BadRequest(f"{what}.apiKey must be the network server's API key")
    else:
        topic = raw.get("topic")
        if not isinstance(topic, str) or not topic or any(c in topic for c in "#+\x00"):
            raise BadRequest(f"{what}.topic must be an MQTT topic (with {{devEui}} or "
                             "{deviceId} in it)")
        config["topic"] = topic
        key = None
    if network == "tts":
        for name in ("application", "webhook") if via == "api" else ():
            value = raw.get(name)
            if not isinstance(value, str) or not _ID.fullmatch(value.split("@")[0]):
                raise BadRequest(f"{what}.{name} must be a The Things Stack id, not {value!r}")
            config[name] = value
        priority = raw.get("priority", "NORMAL")
        if priority not in _PRIORITIES:
            raise BadRequest(f"{what}.priority must be one of {', '.join(_PRIORITIES)}")
        device_ids = raw.get("deviceIds", "eui")
        if device_ids not in ("eui", "name"):
            raise BadRequest(f"{what}.deviceIds must be eui or name")
        config.update(priority=priority, deviceIds=device_ids)
    else:
        confirmed = raw.get("confirmed", False)
        if not isinstance(confirmed, bool):
            raise BadRequest(f"{what}.confirmed must be true or false")
        config["confirmed"] = confirmed
    return config, key


def _url(raw: Any, what: str) -> str:
    parts = urllib.parse.urlsplit(raw) if isinstance(raw, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadRequest(f"{what} must be the network server's http(s) address, not {raw!r}")
    return raw.rstrip("/")


def request(network: str, config: dict[str, Any], key: str | None, dev_eui: str,
            device_name: str, downlink: Downlink) -> Request:
    """The request that queues ``downlink`` for the device on the network server."""
    data = base64.b64encode(downlink.payload).decode()
    if network == "tts":
        device = device_name if config.get("deviceIds") == "name" else f"eui-{dev_eui.lower()}"
        body: dict[str, Any] = {"downlinks": [{"f_port": downlink.f_port, "frm_payload": data,
                                                "priority": config.get("priority", "NORMAL")}]}
        if config["via"] == "mqtt":
            return Request(body, topic=_topic(config["topic"], dev_eui, device))
        path = (f"/api/v3/as/applications/{urllib.parse.quote(config['application'])}/webhooks/"
                f"{urllib.parse.quote(config['webhook'])}/devices/{urllib.parse.quote(device)}"
                "/down/push")
        return Request(body, url=config["url"] + path,
                       headers={"Authorization": f"Bearer {key}"})
    item = {"fPort": downlink.f_port, "data": data, "confirmed": config.get("confirmed", False)}
    if config["via"] == "mqtt":
        return Request({"devEui": dev_eui.lower(), **item},
                       topic=_topic(config["topic"], dev_eui, device_name))
    return Request({"queueItem": item}, url=f"{config['url']}/api/devices/{dev_eui.lower()}/queue",
                   headers={"Grpc-Metadata-Authorization": f"Bearer {key}"})


def _topic(template: str, dev_eui: str, device: str) -> str:
    return template.replace("{devEui}", dev_eui.lower()).replace("{deviceId}", device)
