"""Dragino LDDS75 ultrasonic distance sensor (water levels, bin levels): 8 bytes on fPort 2.

Layout (big-endian): battery (2 bytes, mV in the low 14 bits), distance (2 bytes, mm),
interrupt flag (1 byte), DS18B20 temperature (2 bytes, signed, 0.1 °C), sensor flag (1 byte).

Fields:

- ``batteryVoltage``: V, resolution 0.001
- ``distance``: mm from the sensor to the surface below it (range about 280-7500 mm). Left
  out when the sensor flag says no ultrasonic probe was detected, as the value is then
  meaningless.
- ``interrupt``: bool, true when the uplink was sent because of the interrupt pin
- ``temperature``: °C, resolution 0.1, from the optional external DS18B20 probe (meaningful
  only when one is attached)
- ``sensorDetected``: bool, the sensor flag: whether the ultrasonic probe answered

Another fPort (when the network server gives one) or another length is a DecodeError.
"""

from __future__ import annotations

from typing import Any

from quartier.lorawan.decoders._base import DecodeError
from quartier.lorawan.decoders._reader import PayloadReader

READING_PORT = 2
READING_SIZE = 8
_BATTERY_MASK = 0x3FFF


def decode(payload: bytes, f_port: int | None) -> dict[str, Any]:
    """Decode an LDDS75 reading."""
    reader = PayloadReader(payload)
    if f_port is not None and f_port != READING_PORT:
        raise DecodeError(f"the LDDS75 sends its readings on fPort {READING_PORT}, not on fPort {f_port}")
    if reader.size != READING_SIZE:
        raise DecodeError(f"an LDDS75 reading is {READING_SIZE} bytes long, this payload has {reader.size}")
    battery = reader.unsigned(2, "battery voltage") & _BATTERY_MASK
    distance = reader.unsigned(2, "distance")
    interrupt = reader.unsigned(1, "interrupt flag")
    temperature = reader.signed(2, "DS18B20 temperature")
    sensor_flag = reader.unsigned(1, "sensor flag")
    fields: dict[str, Any] = {"batteryVoltage": battery / 1000}
    if sensor_flag:
        fields["distance"] = distance
    fields["interrupt"] = interrupt != 0
    fields["temperature"] = temperature / 10
    fields["sensorDetected"] = sensor_flag != 0
    return fields
