"""Cayenne Low Power Payload (LPP): a sequence of ``channel, type, value`` records.

Each record is one byte of channel, one byte of data type (the IPSO object id minus 3200)
and a value whose size the type fixes; multi-byte values are big-endian. A field is named
after its type with the channel appended: ``temperature_3`` is the temperature on channel 3.

Fields (type code in brackets):

- ``digitalInput_N`` [0], ``digitalOutput_N`` [1]: 0-255
- ``analogInput_N`` [2], ``analogOutput_N`` [3]: signed, resolution 0.01
- ``genericSensor_N`` [100]: unsigned 32-bit count
- ``illuminance_N`` [101]: lux
- ``presence_N`` [102]: 0-255 (0 none, 1 present)
- ``temperature_N`` [103]: °C, resolution 0.1
- ``humidity_N`` [104]: % relative humidity, resolution 0.5
- ``accelerationX_N``, ``accelerationY_N``, ``accelerationZ_N`` [113]: g, resolution 0.001
- ``barometricPressure_N`` [115]: hPa, resolution 0.1
- ``voltage_N`` [116]: V, resolution 0.01
- ``current_N`` [117]: A, resolution 0.001
- ``frequency_N`` [118]: Hz
- ``percentage_N`` [120]: %
- ``altitude_N`` [121]: m
- ``concentration_N`` [125]: ppm
- ``power_N`` [128]: W
- ``distance_N`` [130]: mm
- ``energy_N`` [131]: kWh, resolution 0.001
- ``direction_N`` [132]: degrees
- ``unixTime_N`` [133]: seconds since 1970-01-01 UTC
- ``angularVelocityX_N``, ``angularVelocityY_N``, ``angularVelocityZ_N`` [134]: °/s, resolution 0.01
- ``colorRed_N``, ``colorGreen_N``, ``colorBlue_N`` [135]: 0-255
- ``latitude_N``, ``longitude_N`` [136]: degrees (WGS 84), resolution 0.0001; ``altitude_N``: m,
  resolution 0.01. The first GPS record in the payload is also given as plain ``latitude``,
  ``longitude`` and ``altitude`` so that a device profile can map a position.
- ``switch_N`` [142]: 0 or 1

Types 0-3 and 100-136 are the original and extended sets of the myDevices and Electronic Cats
libraries. A type not listed (such as the variable-length polyline, 240) is a DecodeError, as
is the same field twice in one payload.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from quartier.lorawan.decoders._base import DecodeError
from quartier.lorawan.decoders._reader import PayloadReader


class _Value(NamedTuple):
    name: str
    size: int
    signed: bool = False
    divisor: int = 1  # 1: the raw integer is the value


_GPS = 136
_TYPES: dict[int, tuple[_Value, ...]] = {
    0: (_Value("digitalInput", 1),),
    1: (_Value("digitalOutput", 1),),
    2: (_Value("analogInput", 2, True, 100),),
    3: (_Value("analogOutput", 2, True, 100),),
    100: (_Value("genericSensor", 4),),
    101: (_Value("illuminance", 2),),
    102: (_Value("presence", 1),),
    103: (_Value("temperature", 2, True, 10),),
    104: (_Value("humidity", 1, False, 2),),
    113: tuple(_Value(f"acceleration{axis}", 2, True, 1000) for axis in "XYZ"),
    115: (_Value("barometricPressure", 2, False, 10),),
    116: (_Value("voltage", 2, False, 100),),
    117: (_Value("current", 2, False, 1000),),
    118: (_Value("frequency", 4),),
    120: (_Value("percentage", 1),),
    121: (_Value("altitude", 2, True),),
    125: (_Value("concentration", 2),),
    128: (_Value("power", 2),),
    130: (_Value("distance", 4),),
    131: (_Value("energy", 4, False, 1000),),
    132: (_Value("direction", 2),),
    133: (_Value("unixTime", 4),),
    134: tuple(_Value(f"angularVelocity{axis}", 2, True, 100) for axis in "XYZ"),
    135: tuple(_Value(f"color{part}", 1) for part in ("Red", "Green", "Blue")),
    _GPS: (
        _Value("latitude", 3, True, 10_000),
        _Value("longitude", 3, True, 10_000),
        _Value("altitude", 3, True, 100),
    ),
    142: (_Value("switch", 1),),
}


def decode(payload: bytes, f_port: int | None) -> dict[str, Any]:
    """Decode a Cayenne LPP payload; the port is not used."""
    reader = PayloadReader(payload)
    fields: dict[str, Any] = {}
    while not reader.at_end():
        record_start = reader.position
        channel = reader.unsigned(1, "channel")
        type_at = reader.position
        type_code = reader.unsigned(1, f"the data type of channel {channel}")
        values = _TYPES.get(type_code)
        if values is None:
            raise DecodeError(
                f"unknown Cayenne LPP data type {type_code} (0x{type_code:02x}) at byte {type_at}, "
                f"in the record for channel {channel} starting at byte {record_start}"
            )
        for value in values:
            key = f"{value.name}_{channel}"
            what = f"{value.name} of channel {channel}"
            raw = reader.signed(value.size, what) if value.signed else reader.unsigned(value.size, what)
            if key in fields:
                raise DecodeError(f"{key} appears twice: channel {channel} repeats it at byte {record_start}")
            fields[key] = raw if value.divisor == 1 else raw / value.divisor
        if type_code == _GPS and "latitude" not in fields:
            for value in values:
                fields[value.name] = fields[f"{value.name}_{channel}"]
    return fields
