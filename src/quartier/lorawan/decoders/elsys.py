"""Elsys sensors (ERS, ERS CO2, ERS Sound, ELT, EMS, ...): a sequence of ``type, value`` records.

Each record is one type byte followed by a value whose size the type fixes; multi-byte values
are big-endian except the GPS coordinates. Fields (type code in brackets):

- ``temperature`` [0x01]: °C, resolution 0.1
- ``humidity`` [0x02]: % relative humidity
- ``accelerationX``, ``accelerationY``, ``accelerationZ`` [0x03]: g (raw value / 63), 4 decimals
- ``illuminance`` [0x04]: lux
- ``motion`` [0x05]: PIR motion count since the last uplink
- ``co2`` [0x06]: ppm
- ``batteryVoltage`` [0x07]: V (VDD), resolution 0.001
- ``analog1Voltage`` [0x08], ``analog2Voltage`` [0x18]: V, resolution 0.001
- ``latitude``, ``longitude`` [0x09]: degrees (WGS 84), resolution 0.0001; each a signed 24-bit
  little-endian integer
- ``pulse1`` [0x0A], ``pulse2`` [0x16]: pulses since the last uplink
- ``pulse1Absolute`` [0x0B], ``pulse2Absolute`` [0x17]: pulse counter total
- ``externalTemperature`` [0x0C]: °C, resolution 0.1
- ``digitalInput`` [0x0D], ``digitalInput2`` [0x1A]: 0 or 1
- ``distance`` [0x0E]: mm
- ``accelerometerMotion`` [0x0F]: motions counted by the accelerometer since the last uplink
- ``irInternalTemperature``, ``irExternalTemperature`` [0x10]: °C, resolution 0.1
- ``occupancy`` [0x11]: 0 free, 1 movement (pending), 2 occupied
- ``waterLeak`` [0x12]: 0-255, higher is wetter
- ``gridEyeTemperatures`` [0x13]: list of 64 °C values (reference byte + each pixel / 10)
- ``pressure`` [0x14]: hPa, resolution 0.001
- ``soundPeak``, ``soundAverage`` [0x15]: dB
- ``externalTemperature2`` [0x19]: °C, resolution 0.1. This record may repeat (one per probe):
  the second is ``externalTemperature2_2``, the third ``externalTemperature2_3``, and so on.
- ``analogInputMicrovolts`` [0x1B]: µV, signed
- ``tvoc`` [0x1C]: ppb

A debug record [0x3D] is skipped. An unknown type code, or a field other than
``externalTemperature2`` twice in one payload, is a DecodeError.
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
    little_endian: bool = False


_GRID_EYE = 0x13
_GRID_EYE_PIXELS = 64
_REPEATABLE = "externalTemperature2"
_SKIPPED = {0x3D: 4}  # debug data
_TYPES: dict[int, tuple[_Value, ...]] = {
    0x01: (_Value("temperature", 2, True, 10),),
    0x02: (_Value("humidity", 1),),
    0x03: tuple(_Value(f"acceleration{axis}", 1, True, 63) for axis in "XYZ"),
    0x04: (_Value("illuminance", 2),),
    0x05: (_Value("motion", 1),),
    0x06: (_Value("co2", 2),),
    0x07: (_Value("batteryVoltage", 2, False, 1000),),
    0x08: (_Value("analog1Voltage", 2, False, 1000),),
    0x09: (
        _Value("latitude", 3, True, 10_000, little_endian=True),
        _Value("longitude", 3, True, 10_000, little_endian=True),
    ),
    0x0A: (_Value("pulse1", 2),),
    0x0B: (_Value("pulse1Absolute", 4),),
    0x0C: (_Value("externalTemperature", 2, True, 10),),
    0x0D: (_Value("digitalInput", 1),),
    0x0E: (_Value("distance", 2),),
    0x0F: (_Value("accelerometerMotion", 1),),
    0x10: (_Value("irInternalTemperature", 2, True, 10), _Value("irExternalTemperature", 2, True, 10)),
    0x11: (_Value("occupancy", 1),),
    0x12: (_Value("waterLeak", 1),),
    0x14: (_Value("pressure", 4, False, 1000),),
    0x15: (_Value("soundPeak", 1), _Value("soundAverage", 1)),
    0x16: (_Value("pulse2", 2),),
    0x17: (_Value("pulse2Absolute", 4),),
    0x18: (_Value("analog2Voltage", 2, False, 1000),),
    0x19: (_Value(_REPEATABLE, 2, True, 10),),
    0x1A: (_Value("digitalInput2", 1),),
    0x1B: (_Value("analogInputMicrovolts", 4, True),),
    0x1C: (_Value("tvoc", 2),),
}


def _read(reader: PayloadReader, value: _Value, type_at: int) -> int | float:
    what = f"{value.name} (record at byte {type_at})"
    if value.signed:
        raw = reader.signed(value.size, what, little_endian=value.little_endian)
    else:
        raw = reader.unsigned(value.size, what, little_endian=value.little_endian)
    return raw if value.divisor == 1 else round(raw / value.divisor, 4)


def _grid_eye(reader: PayloadReader) -> list[float]:
    reference = reader.unsigned(1, "Grid-EYE reference temperature")
    pixels = reader.read(_GRID_EYE_PIXELS, "Grid-EYE pixels")
    return [round(reference + pixel / 10, 1) for pixel in pixels]


def _free_key(fields: dict[str, Any], name: str, type_at: int) -> str:
    if name not in fields:
        return name
    if name != _REPEATABLE:
        raise DecodeError(f"{name} appears twice: repeated by the record at byte {type_at}")
    number = 2
    while f"{name}_{number}" in fields:
        number += 1
    return f"{name}_{number}"


def decode(payload: bytes, f_port: int | None) -> dict[str, Any]:
    """Decode an Elsys payload; the port is not used."""
    reader = PayloadReader(payload)
    fields: dict[str, Any] = {}
    while not reader.at_end():
        type_at = reader.position
        type_code = reader.unsigned(1, "type")
        if type_code in _SKIPPED:
            reader.read(_SKIPPED[type_code], f"the record of type 0x{type_code:02x} at byte {type_at}")
        elif type_code == _GRID_EYE:
            fields[_free_key(fields, "gridEyeTemperatures", type_at)] = _grid_eye(reader)
        elif type_code in _TYPES:
            for value in _TYPES[type_code]:
                fields[_free_key(fields, value.name, type_at)] = _read(reader, value, type_at)
        else:
            raise DecodeError(f"unknown Elsys data type 0x{type_code:02x} at byte {type_at}")
    return fields
