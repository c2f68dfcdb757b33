"""The MQTT 5 packets Quartier's broker connection sends and reads (OASIS MQTT 5.0).

Only what :mod:`quartier.mqtt.link` needs: CONNECT, SUBSCRIBE, UNSUBSCRIBE, PUBLISH and
PUBACK (QoS 0 and 1), PINGREQ and DISCONNECT out; CONNACK, SUBACK, UNSUBACK, PUBLISH,
PUBACK, PINGRESP and DISCONNECT in. Encoding is plain byte concatenation, and a
publication's fixed part (its topic and properties) is built once per topic, because a
message costs here what every announcement costs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

CONNECT, CONNACK, PUBLISH, PUBACK = 1, 2, 3, 4
SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK = 8, 9, 10, 11
PINGREQ, PINGRESP, DISCONNECT = 12, 13, 14

# property identifiers used here
SESSION_EXPIRY = 0x11
RECEIVE_MAXIMUM = 0x21
REASON_STRING = 0x1F
USER_PROPERTY = 0x26

PINGREQ_PACKET = b"\xc0\x00"

# How each property's value is laid out, to read (or step over) any of them.
_BYTE, _TWO, _FOUR, _VARINT, _TEXT, _BINARY, _PAIR = range(7)
_KINDS = {
    0x01: _BYTE, 0x02: _FOUR, 0x03: _TEXT, 0x08: _TEXT, 0x09: _BINARY, 0x0B: _VARINT,
    0x11: _FOUR, 0x12: _TEXT, 0x13: _TWO, 0x15: _TEXT, 0x16: _BINARY, 0x17: _BYTE,
    0x18: _FOUR, 0x19: _BYTE, 0x1A: _TEXT, 0x1C: _TEXT, 0x1F: _TEXT, 0x21: _TWO,
    0x22: _TWO, 0x23: _TWO, 0x24: _BYTE, 0x25: _BYTE, 0x26: _PAIR, 0x27: _FOUR,
    0x28: _BYTE, 0x29: _BYTE, 0x2A: _BYTE,
}


class ProtocolError(Exception):
    """The broker sent something that is not MQTT 5 as this module reads it."""


def varint(value: int) -> bytes:
    """A Variable Byte Integer (remaining lengths, property lengths)."""
    out = bytearray()
    while True:
        value, digit = divmod(value, 128)
        out.append(digit | (0x80 if value else 0))
        if not value:
            return bytes(out)


def read_varint(data: bytes, pos: int) -> tuple[int, int]:
    """(value, position after it); IndexError when ``data`` ends inside it."""
    value = shift = 0
    for _ in range(4):
        digit = data[pos]
        pos += 1
        value |= (digit & 0x7F) << shift
        if not digit & 0x80:
            return value, pos
        shift += 7
    raise ProtocolError("a variable byte integer longer than four bytes")


def text(value: str) -> bytes:
    raw = value.encode()
    return len(raw).to_bytes(2, "big") + raw


def _packet(first: int, body: bytes) -> bytes:
    return bytes((first,)) + varint(len(body)) + body


def properties(*items: tuple[int, Any]) -> bytes:
    """A property block (length first) of (identifier, value) pairs."""
    out = bytearray()
    for ident, value in items:
        kind = _KINDS[ident]
        out.append(ident)
        if kind == _TWO:
            out += value.to_bytes(2, "big")
        elif kind == _FOUR:
            out += value.to_bytes(4, "big")
        elif kind == _PAIR:
            out += text(value[0]) + text(value[1])
        elif kind == _TEXT:
            out += text(value)
        else:
            raise ValueError(f"property {ident:#x} is not written by this module")
    return varint(len(out)) + bytes(out)


def read_properties(data: bytes, pos: int) -> tuple[dict[int, Any], int]:
    """The property block at ``pos``: ({identifier: value}, position after it); user
    properties come as a list of (name, value) pairs."""
    length, pos = read_varint(data, pos)
    end = pos + length
    out: dict[int, Any] = {}
    while pos < end:
        ident = data[pos]
        kind = _KINDS.get(ident)
        pos += 1
        value: Any
        if kind == _BYTE:
            value, pos = data[pos], pos + 1
        elif kind == _TWO:
            value, pos = int.from_bytes(data[pos:pos + 2], "big"), pos + 2
        elif kind == _FOUR:
            value, pos = int.from_bytes(data[pos:pos + 4], "big"), pos + 4
        elif kind == _VARINT:
            value, pos = read_varint(data, pos)
        elif kind in (_TEXT, _BINARY):
            size = int.from_bytes(data[pos:pos + 2], "big")
            value, pos = bytes(data[pos + 2:pos + 2 + size]), pos + 2 + size
            if kind == _TEXT:
                value = value.decode(errors="replace")
        elif kind == _PAIR:
            pair = []
            for _ in range(2):
                size = int.from_bytes(data[pos:pos + 2], "big")
                pair.append(bytes(data[pos + 2:pos + 2 + size]).decode(errors="replace"))
                pos += 2 + size
            out.setdefault(USER_PROPERTY, []).append(tuple(pair))
            continue
        else:
            raise ProtocolError(f"unknown property {ident:#x}")
        out[ident] = value
    if pos != end:
        raise ProtocolError("a property block's length does not match its properties")
    return out, end


def connect(client_id: str, keepalive: int, clean_start: bool, props: bytes,
            user: str | None = None, password: str | None = None) -> bytes:
    flags = (0x02 if clean_start else 0) | (0x80 if user is not None else 0) \
        | (0x40 if password is not None else 0)
    body = b"\x00\x04MQTT\x05" + bytes((flags,)) + keepalive.to_bytes(2, "big") + props \
        + text(client_id)
    if user is not None:
        body += text(user)
    if password is not None:
        body += text(password)
    return _packet(CONNECT << 4, body)


def subscribe(mid: int, filters: Sequence[tuple[str, int]]) -> bytes:
    """SUBSCRIBE with (topic filter, options byte) pairs."""
    body = mid.to_bytes(2, "big") + b"\x00" + b"".join(text(f) + bytes((o,)) for f, o in filters)
    return _packet(SUBSCRIBE << 4 | 0x02, body)


def subscription_options(qos: int, no_local: bool) -> int:
    return qos | (0x04 if no_local else 0)


def unsubscribe(mid: int, filters: Sequence[str]) -> bytes:
    body = mid.to_bytes(2, "big") + b"\x00" + b"".join(text(f) for f in filters)
    return _packet(UNSUBSCRIBE << 4 | 0x02, body)


def disconnect(props: bytes = b"\x00") -> bytes:
    return _packet(DISCONNECT << 4, b"\x00" + props)


def puback(mid: int) -> bytes:
    """A PUBACK with reason "success" (which MQTT 5 lets us leave out)."""
    return b"\x40\x02" + mid.to_bytes(2, "big")


def publish_head(topic: str, props: bytes) -> tuple[bytes, bytes]:
    """A PUBLISH's parts around the packet identifier: the topic, and the properties;
    see :func:`publish`."""
    return text(topic), props


def publish(head: tuple[bytes, bytes], mid: int, payload: bytes, retain: bool,
            dup: bool = False) -> bytes:
    """A QoS 1 PUBLISH with :func:`publish_head`'s parts."""
    topic, props = head
    first = 0x32 | (0x01 if retain else 0) | (0x08 if dup else 0)
    length = len(topic) + len(props) + 2 + len(payload)
    if length < 128:
        fixed = bytes((first, length))
    elif length < 16_384:  # the usual announcement: a two-byte remaining length
        fixed = bytes((first, (length & 0x7F) | 0x80, length >> 7))
    else:
        fixed = bytes((first,)) + varint(length)
    return b"".join((fixed, topic, mid.to_bytes(2, "big"), props, payload))


def publish_at_most_once(head: tuple[bytes, bytes], payload: bytes, retain: bool) -> bytes:
    """A QoS 0 PUBLISH with :func:`publish_head`'s parts: no packet identifier."""
    topic, props = head
    return _packet(0x30 | (0x01 if retain else 0), b"".join((topic, props, payload)))


def set_dup(packet: bytes) -> bytes:
    """The same PUBLISH, marked as sent before."""
    return bytes((packet[0] | 0x08,)) + packet[1:]
