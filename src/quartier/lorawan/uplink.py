"""The uplinks of two LoRaWAN network servers read into one typed value, :class:`Uplink`.

``parse_tts`` reads a message of The Things Stack v3 (webhook body, or the payload of the MQTT
integration's ``v3/{app}@{tenant}/devices/{device}/up`` topic); ``parse_chirpstack`` reads an
event of ChirpStack v4 (HTTP integration body posted with ``?event=up``, or the payload of
``application/{id}/device/{devEui}/event/up``). Both return ``None`` for a well-formed message
that is not an uplink (joins, downlink events, status, locations, ...) so that the caller can
answer "ignored", and raise :class:`~quartier.errors.BadRequest` naming the field for anything
malformed. No other exception leaves this module: the caller turns BadRequest into a 400 answer.

Both servers write the protobuf JSON mapping, which leaves out fields holding zero, ``""`` or
``false``. So a missing ``f_cnt``/``fCnt`` is frame counter 0 (the first uplink of a session), a
missing ChirpStack ``dr`` is data rate 0, a missing latitude or longitude next to the other is 0,
and a missing altitude is taken as unknown (None), since it cannot be told apart from 0 m.

Deduplication key
-----------------
Webhooks and MQTT deliver at least once, and the same uplink may come by both roads, so the key
names the uplink itself, never one delivery of it:

* ChirpStack: ``deduplicationId``, which the network server gives each uplink once it has merged
  the copies heard by all gateways.
* The Things Stack, and ChirpStack without ``deduplicationId``: DevEUI, session and frame
  counter. The session is TTS's ``uplink_message.session_key_id`` (new at every join), else the
  DevAddr, so that a device that rejoins and counts from 0 again is not taken for a duplicate.
  (A later session that happens to get the same DevAddr would be; hence the session key first.)
* No session known, or a TTS uplink with ``simulated: true`` (its frame counter is whatever the
  person simulating typed, usually nothing): the time the network server received the uplink.
"""

from __future__ import annotations

import base64
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from quartier.errors import BadRequest
from quartier.model.times import _json_kind, format_instant, parse_instant

T = TypeVar("T")
Reader = Callable[[Any, str], T]

# The other kinds of The Things Stack message: well-formed, but not uplinks.
_TTS_OTHER = frozenset({
    "join_accept", "downlink_ack", "downlink_nack", "downlink_sent", "downlink_failed",
    "downlink_queued", "downlink_queue_invalidated", "location_solved", "service_data",
    "uplink_normalized",
})
_WHOLE = re.compile(r"-?[0-9]{1,20}")  # protobuf JSON may write 64-bit numbers as strings
_DURATION = re.compile(r"[0-9]{1,9}(\.[0-9]{1,9})?s")  # protobuf JSON Duration: "0.056576s"
_HEX = re.compile(r"[0-9A-Fa-f]+")
_URLSAFE = str.maketrans("-_", "+/")  # protobuf JSON readers accept both base64 alphabets
_WHICH_DEVICE = ": the DevEUI tells which device sent the uplink"
_MAX_FRAME = 255  # a LoRaWAN PHYPayload is at most 255 bytes, so an FRMPayload is less

Gateway = tuple[str | None, float | None, float | None]  # id, RSSI, SNR


@dataclass(frozen=True)
class Uplink:
    network: str  # "tts" or "chirpstack"
    dev_eui: str  # 16 upper-case hexadecimal digits
    received_at: datetime  # UTC, when the network server received the uplink
    f_port: int | None
    f_cnt: int | None
    dedup_key: str  # the same for every delivery of one uplink (module docstring)
    payload: bytes  # the FRMPayload, b"" when there is none
    decoded: dict[str, Any] | None  # what the network server's payload decoder made of it
    radio: dict[str, Any]  # flat, JSON-safe, camelCase: kept as Observation parameters
    position: tuple[float, float, float | None] | None  # (lon, lat, alt) of the device's own fix


def parse_tts(body: Any) -> Uplink | None:
    """A The Things Stack v3 uplink, or None for another kind of message."""
    msg = _At(body, "", "The Things Stack message")
    if "uplink_message" not in msg.data:
        if _TTS_OTHER.intersection(msg.data):
            return None
        raise BadRequest(
            "The Things Stack message has neither uplink_message nor another known message "
            "(join_accept, downlink_*, location_solved, service_data): is it a v3 message?"
        )
    up = msg.sub("uplink_message", required=True)
    ids = msg.sub("end_device_ids", required=True)
    dev_eui = ids.need("dev_eui", _eui, _WHICH_DEVICE)
    dev_addr = ids.get("dev_addr", _dev_addr)
    received_by_as = msg.get("received_at", parse_instant)  # read even if unused: it must be valid
    received_at = up.get("received_at", parse_instant) or received_by_as
    if received_at is None:
        raise BadRequest("uplink_message.received_at is missing (and so is received_at)")
    payload = up.get("frm_payload", _frame) or b""
    f_port = _f_port(up.get("f_port", _PORT), payload)
    f_cnt = up.get("f_cnt", _U32) or 0
    session = _session(up.get("session_key_id", _token), dev_addr)
    if msg.get("simulated", _bool):
        session = None
    gateways: list[Gateway] = []
    for meta in up.objects("rx_metadata"):
        rssi = meta.get("rssi", _RSSI)
        if rssi is None:  # older stacks filled in only the channel RSSI
            rssi = meta.get("channel_rssi", _RSSI)
        gateways.append((meta.sub("gateway_ids").get("gateway_id", _name), rssi, meta.get("snr", _SNR)))
    settings = up.sub("settings")
    lora = settings.sub("data_rate").sub("lora")
    return Uplink(
        network="tts",
        dev_eui=dev_eui,
        received_at=received_at,
        f_port=f_port,
        f_cnt=f_cnt,
        dedup_key=_dedup_key("tts", dev_eui, session, f_cnt, received_at),
        payload=payload,
        decoded=up.get("decoded_payload", _object),
        radio=_radio("tts", f_cnt, f_port, dev_addr, gateways, {
            "frequency": settings.get("frequency", _FREQUENCY),
            "spreadingFactor": lora.get("spreading_factor", _SF),
            "bandwidth": lora.get("bandwidth", _BANDWIDTH),
            "airtime": up.get("consumed_airtime", _seconds),
            "deviceId": ids.get("device_id", _name),
            "applicationId": ids.sub("application_ids").get("application_id", _name),
        }),
        position=_tts_position(up.sub("locations")),
    )


def parse_chirpstack(body: Any, event: str) -> Uplink | None:
    """A ChirpStack v4 ``up`` event, or None for any other event."""
    if event != "up":
        return None
    msg = _At(body, "", "ChirpStack event")
    info = msg.sub("deviceInfo", required=True)
    dev_eui = info.need("devEui", _eui, _WHICH_DEVICE)
    dev_addr = msg.get("devAddr", _dev_addr)
    payload = msg.get("data", _frame) or b""
    f_port = _f_port(msg.get("fPort", _PORT), payload)
    f_cnt = msg.get("fCnt", _U32) or 0
    gateways: list[Gateway] = []
    rx_times: dict[str, list[datetime]] = {"nsTime": [], "gwTime": [], "time": []}
    for rx in msg.objects("rxInfo"):
        gateways.append((rx.get("gatewayId", _name), rx.get("rssi", _RSSI), rx.get("snr", _SNR)))
        for key, times in rx_times.items():
            if (at := rx.get(key, parse_instant)) is not None:
                times.append(at)
    # Failing the event's own time, the network server's clock; a gateway's may be off.
    received_at = msg.get("time", parse_instant) or next((min(t) for t in rx_times.values() if t), None)
    if received_at is None:
        raise BadRequest("time is missing (and no rxInfo entry has nsTime or gwTime)")
    dedup_id = msg.get("deduplicationId", _token)
    if dedup_id is not None:
        dedup_key = f"chirpstack:{dev_eui}:{dedup_id}"
    else:
        dedup_key = _dedup_key("chirpstack", dev_eui, _session(None, dev_addr), f_cnt, received_at)
    tx = msg.sub("txInfo")
    lora = tx.sub("modulation").sub("lora")
    return Uplink(
        network="chirpstack",
        dev_eui=dev_eui,
        received_at=received_at,
        f_port=f_port,
        f_cnt=f_cnt,
        dedup_key=dedup_key,
        payload=payload,
        decoded=msg.get("object", _object),
        radio=_radio("chirpstack", f_cnt, f_port, dev_addr, gateways, {
            "frequency": tx.get("frequency", _FREQUENCY),
            "spreadingFactor": lora.get("spreadingFactor", _SF),
            "bandwidth": lora.get("bandwidth", _BANDWIDTH),
            "dataRate": msg.get("dr", _DATA_RATE) or 0,
            "deviceId": info.get("deviceName", _name),
            "applicationId": info.get("applicationId", _name),
        }),
        position=None,  # an up event carries no fix of its own; only a decoder's object might
    )


class _At:
    """A JSON object and where it sits in the message, so that each error names its field."""

    def __init__(self, value: Any, where: str, label: str = "") -> None:
        self.where = where
        self.data = _object(value, label or where)

    def path(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def get(self, key: str, read: Reader[T]) -> T | None:
        """The value read by ``read``; None when absent or null (protobuf JSON's zero)."""
        value = self.data.get(key)
        return None if value is None else read(value, self.path(key))

    def need(self, key: str, read: Reader[T], why: str = "") -> T:
        value = self.get(key, read)
        if value is None:
            raise BadRequest(f"{self.path(key)} is missing{why}")
        return value

    def sub(self, key: str, required: bool = False) -> _At:
        """A nested object; an empty one when absent and not required."""
        value = self.data.get(key)
        if value is None and required:
            raise BadRequest(f"{self.path(key)} is missing")
        return _At({} if value is None else value, self.path(key))

    def objects(self, key: str) -> list[_At]:
        items = self.data.get(key)
        if items is None:
            return []
        if not isinstance(items, list):
            raise BadRequest(f"{self.path(key)} must be an array, not {_json_kind(items)}")
        return [_At(item, f"{self.path(key)}[{i}]") for i, item in enumerate(items)]


def _f_port(f_port: int | None, payload: bytes) -> int | None:
    # FPort 0 is left out like any zero, but a frame that has a payload always has an FPort.
    return 0 if f_port is None and payload else f_port


def _session(session_key: str | None, dev_addr: str | None) -> str | None:
    if session_key is not None:
        return f"key:{session_key}"
    return None if dev_addr is None else f"addr:{dev_addr}"


def _dedup_key(network: str, dev_eui: str, session: str | None, f_cnt: int, at: datetime) -> str:
    if session is None:
        return f"{network}:{dev_eui}:at:{format_instant(at)}"
    return f"{network}:{dev_eui}:{session}:{f_cnt}"


def _radio(
    network: str, f_cnt: int, f_port: int | None, dev_addr: str | None,
    gateways: list[Gateway], more: dict[str, Any],
) -> dict[str, Any]:
    radio: dict[str, Any] = {"fCnt": f_cnt, "fPort": f_port, "devAddr": dev_addr}
    if gateways:
        # The strongest gateway speaks for the uplink; SNR breaks ties, then the order given.
        gateway_id, rssi, snr = max(gateways, key=lambda g: (
            -math.inf if g[1] is None else g[1], -math.inf if g[2] is None else g[2]))
        named = {g[0] for g in gateways if g[0] is not None}
        # TTS lists each antenna of a gateway apart; a gateway counts once.
        count = len(named) + sum(1 for g in gateways if g[0] is None)
        radio.update(rssi=rssi, snr=snr, gatewayId=gateway_id, gatewayCount=count)
    radio.update(more, network=network)
    return {key: value for key, value in radio.items() if value is not None}


def _tts_position(locations: _At) -> tuple[float, float, float | None] | None:
    """The device's own fix: the location TTS read from the decoded payload ("frm-payload"), else
    another GPS one; never "user", the location typed into the device registry.

    TTS copies the device's stored locations into every uplink, so an uplink without a fix of its
    own may still carry the last "frm-payload" one; nothing in the message tells the two apart."""
    others = [key for key in locations.data if key not in ("frm-payload", "user")]
    for key in ["frm-payload", *others]:
        value = locations.data.get(key)
        location = _At({} if value is None else value, f'{locations.where}["{key}"]')
        if key != "frm-payload" and location.data.get("source") != "SOURCE_GPS":
            continue
        latitude = location.get("latitude", _LATITUDE)
        longitude = location.get("longitude", _LONGITUDE)
        if latitude is None and longitude is None:
            continue
        altitude = location.get("altitude", _ALTITUDE)
        return float(longitude or 0), float(latitude or 0), None if altitude is None else float(altitude)
    return None


# --- single values: each reader names the field it refuses ---------------------------------------


def _object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BadRequest(f"{what} must be a JSON object, not {_json_kind(value)}")
    return value


def _bool(value: Any, what: str) -> bool:
    if not isinstance(value, bool):
        raise BadRequest(f"{what} must be true or false, not {_show(value)}")
    return value


def _name(value: Any, what: str) -> str | None:
    if not isinstance(value, str) or len(value) > 256:
        raise BadRequest(f"{what} must be a text of at most 256 characters, not {_show(value)}")
    return value or None


def _token(value: Any, what: str) -> str:
    """An identifier that goes into a dedup key."""
    if not (isinstance(value, str) and 0 < len(value) <= 128 and value.isascii() and value.isprintable()):
        raise BadRequest(f"{what} must be an identifier of 1 to 128 printable characters, not {_show(value)}")
    return value


def _hex(digits: int, name: str) -> Reader[str]:
    def read(value: Any, what: str) -> str:
        if not (isinstance(value, str) and len(value) == digits and _HEX.fullmatch(value)):
            raise BadRequest(f"{what} must be {digits} hexadecimal digits (the {name}), not {_show(value)}")
        return value.upper()

    return read


_eui = _hex(16, "DevEUI")
_dev_addr = _hex(8, "DevAddr")


def _frame(value: Any, what: str) -> bytes:
    if not isinstance(value, str):
        raise BadRequest(f"{what} must be a base64 string, not {_json_kind(value)}")
    text = value.translate(_URLSAFE)
    try:
        data = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except ValueError:
        raise BadRequest(f"{what} is not valid base64: {_show(value)}") from None
    if len(data) > _MAX_FRAME:
        raise BadRequest(f"{what} holds {len(data)} bytes; a LoRaWAN frame holds at most {_MAX_FRAME}")
    return data


def _whole(low: int, high: int) -> Reader[int]:
    def read(value: Any, what: str) -> int:
        if not (
            (isinstance(value, int) and not isinstance(value, bool))
            or (isinstance(value, float) and value.is_integer())
            or (isinstance(value, str) and _WHOLE.fullmatch(value))
        ):
            raise BadRequest(f"{what} must be a whole number, not {_show(value)}")
        if not low <= int(value) <= high:
            raise BadRequest(f"{what} must be between {low} and {high}, not {int(value)}")
        return int(value)

    return read


def _number(low: float, high: float) -> Reader[float]:
    def read(value: Any, what: str) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise BadRequest(f"{what} must be a number, not {_show(value)}")
        if not low <= value <= high:
            raise BadRequest(f"{what} must be between {low:g} and {high:g}, not {value}")
        return value  # an int stays an int, as the network server wrote it

    return read


_U32 = _whole(0, 2**32 - 1)
_PORT = _whole(0, 255)
_FREQUENCY = _whole(1_000_000, 10_000_000_000)  # Hz
_SF = _whole(5, 12)
_BANDWIDTH = _whole(1_000, 10_000_000)  # Hz
_DATA_RATE = _whole(0, 15)
_RSSI = _number(-250, 50)  # dBm
_SNR = _number(-50, 50)  # dB
_LATITUDE = _number(-90, 90)
_LONGITUDE = _number(-180, 180)
_ALTITUDE = _number(-12_000, 100_000)  # m; trackers ride high-altitude balloons too


def _seconds(value: Any, what: str) -> float:
    if isinstance(value, str) and _DURATION.fullmatch(value) and float(value[:-1]) <= 60:
        return float(value[:-1])
    raise BadRequest(f"{what} must be a duration of at most 60 s such as '0.056576s', not {_show(value)}")


def _show(value: Any) -> str:
    if isinstance(value, dict | list):
        return _json_kind(value)
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."
