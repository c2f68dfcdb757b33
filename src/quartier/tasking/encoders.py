"""Command encoders: per kind of device, how a Task's taskingParameters become a LoRaWAN
downlink, and what the device reports once it obeyed (so that the Task is confirmed).

An encoder is any object (a module will do) with two functions::

    encode(parameters: dict) -> Downlink          # f_port and payload bytes
    expected(parameters: dict) -> dict[str, Any]  # decoded uplink field -> value

Built-ins and installed plug-ins (entry point group ``quartier.encoders``) are found by
name. A TaskingCapability names its encoder in ``properties/encoder``; without one, the
name of its Thing's device profile is tried.
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
import logging
from typing import Any, Protocol

from quartier.lorawan.downlinks import Downlink

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "quartier.encoders"
BUILT_IN = {"demo-streetlight": "quartier.tasking.streetlight"}


class Encoder(Protocol):
    def encode(self, parameters: dict[str, Any]) -> Downlink: ...

    def expected(self, parameters: dict[str, Any]) -> dict[str, Any]: ...


def _usable(name: str, loaded: Any) -> Encoder | None:
    if all(callable(getattr(loaded, f, None)) for f in ("encode", "expected")):
        return loaded  # type: ignore[no-any-return,unused-ignore]
    log.warning("command encoder %r has no encode() and expected(); it is skipped", name)
    return None


@functools.cache
def encoders() -> dict[str, Encoder]:
    """Every encoder by name, loaded once (a built-in wins over a plug-in of its name)."""
    found: dict[str, Encoder] = {}
    try:
        points = tuple(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP))
    except Exception:
        log.warning("could not list the %r entry points", ENTRY_POINT_GROUP, exc_info=True)
        points = ()
    for point in points:
        try:
            usable = _usable(point.name, point.load())
        except Exception:
            log.warning("command encoder %r could not be loaded", point.name, exc_info=True)
            continue
        if usable is not None:
            found[point.name] = usable
    for name, module in BUILT_IN.items():
        usable = _usable(name, importlib.import_module(module))
        if usable is not None:
            found[name] = usable
    return found


def find(name: str | None) -> Encoder | None:
    return None if name is None else encoders().get(name)
