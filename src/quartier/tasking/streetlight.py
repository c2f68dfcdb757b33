"""The encoder of the demo town's luminaire controllers (device profile
``demo-streetlight``).

Parameters: ``switch`` ("on" or "off") and ``dim`` (0 to 100 %), either may be left out.
Downlink on port 10, three bytes: ``0x01`` (set output), the switch (0 off, 1 on, 0xFF
unchanged) and the level in % (0xFF unchanged). The lamp's next uplink reports ``state``
("on"/"off") and ``dimming`` (its level, 0 while off).
"""

from __future__ import annotations

from typing import Any

from quartier.lorawan.downlinks import Downlink

F_PORT = 10
SET_OUTPUT = 0x01
UNCHANGED = 0xFF

# The TaskingCapability of a lamp, as the demo provisions it.
TASKING_PARAMETERS: dict[str, Any] = {
    "type": "DataRecord",
    "field": [
        {"name": "switch", "label": "Switch", "description": "Switch the lamp on or off",
         "type": "Category", "optional": True,
         "constraint": {"type": "AllowedTokens", "value": ["on", "off"]}},
        {"name": "dim", "label": "Dimming level", "description": "Light output in percent",
         "type": "Quantity", "optional": True, "uom": {"code": "%"},
         "constraint": {"type": "AllowedValues", "interval": [[0, 100]]}},
    ],
}


def encode(parameters: dict[str, Any]) -> Downlink:
    switch = parameters.get("switch")
    dim = parameters.get("dim")
    state = UNCHANGED if switch is None else 1 if switch == "on" else 0
    level = UNCHANGED if dim is None else round(dim)
    return Downlink(F_PORT, bytes((SET_OUTPUT, state, level)))


def decode(payload: bytes) -> dict[str, Any]:
    """The command a payload carries (for the simulated lamp): ``switch`` and ``dim``."""
    if len(payload) != 3 or payload[0] != SET_OUTPUT:
        raise ValueError(f"not a set-output command: {payload.hex()}")
    out: dict[str, Any] = {}
    if payload[1] != UNCHANGED:
        out["switch"] = "on" if payload[1] else "off"
    if payload[2] != UNCHANGED:
        out["dim"] = min(payload[2], 100)
    return out


def expected(parameters: dict[str, Any]) -> dict[str, Any]:
    if parameters.get("switch") == "off":
        return {"state": "off"}
    out: dict[str, Any] = {}
    if parameters.get("switch") == "on":
        out["state"] = "on"
    if parameters.get("dim") is not None:
        out["dimming"] = parameters["dim"]
    return out
