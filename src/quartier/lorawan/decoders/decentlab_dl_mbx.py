"""Decentlab DL-MBX ultrasonic distance / level sensor (water levels), Decentlab protocol v2.

Layout (big-endian 16-bit words): protocol version (1 byte, must be 2), device id (2 bytes),
flags (2 bytes), then the words of each sensor whose flag bit is set, lowest bit first:

- bit 0, two words: distance (mm) and number of valid samples
- bit 1, one word: battery voltage (mV)

Fields:

- ``protocolVersion``: 2
- ``deviceId``: the device's 16-bit id
- ``distance``: mm, the mean over the valid samples (only when flag bit 0 is set)
- ``numberOfValidSamples``: count (only when flag bit 0 is set)
- ``batteryVoltage``: V, resolution 0.001 (only when flag bit 1 is set)

A different protocol version, a flag bit for a sensor this device does not have, or a length
that does not match the flags is a DecodeError.
"""

from __future__ import annotations

from typing import Any

from quartier.lorawan.decoders._base import DecodeError
from quartier.lorawan.decoders._reader import PayloadReader

PROTOCOL_VERSION = 2
_HEADER_SIZE = 5
_DISTANCE_FLAG = 0x0001
_BATTERY_FLAG = 0x0002
_WORDS = {_DISTANCE_FLAG: 2, _BATTERY_FLAG: 1}
_KNOWN_FLAGS = _DISTANCE_FLAG | _BATTERY_FLAG


def decode(payload: bytes, f_port: int | None) -> dict[str, Any]:
    """Decode a DL-MBX uplink; the port is not used."""
    reader = PayloadReader(payload)
    version = reader.unsigned(1, "protocol version")
    if version != PROTOCOL_VERSION:
        raise DecodeError(f"Decentlab protocol version {version} at byte 0; this decoder reads version 2")
    device_id = reader.unsigned(2, "device id")
    flags = reader.unsigned(2, "sensor flags")
    if flags & ~_KNOWN_FLAGS:
        raise DecodeError(
            f"sensor flags 0x{flags:04x} at byte 3 name sensors a DL-MBX does not have "
            f"(only bits 0 and 1 are known)"
        )
    expected = _HEADER_SIZE + 2 * sum(words for flag, words in _WORDS.items() if flags & flag)
    if reader.size != expected:
        raise DecodeError(
            f"sensor flags 0x{flags:04x} announce {expected} bytes, but the payload has {reader.size}"
        )
    fields: dict[str, Any] = {"protocolVersion": version, "deviceId": device_id}
    if flags & _DISTANCE_FLAG:
        fields["distance"] = reader.unsigned(2, "distance")
        fields["numberOfValidSamples"] = reader.unsigned(2, "number of valid samples")
    if flags & _BATTERY_FLAG:
        fields["batteryVoltage"] = reader.unsigned(2, "battery voltage") / 1000
    return fields
