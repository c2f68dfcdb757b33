"""Payload decoders: Quartier reads a device's raw FRMPayload itself when the network server
sends no decoded fields.

A decoder is a callable ``decode(payload: bytes, f_port: int | None) -> dict[str, Any]``:

- ``payload`` is the FRMPayload (the application bytes, already decrypted), ``f_port`` the
  LoRaWAN port or ``None`` when the network server did not say.
- It returns the readings as a flat dict of lowerCamelCase field names to JSON-safe values
  (``int``, finite ``float``, ``str``, ``bool``, ``None``, or lists and dicts of these); a
  device profile maps these field names to Datastreams.
- When the bytes cannot be read it raises :class:`DecodeError` (a ``ValueError``) whose
  message says why: too short, unknown type code at byte N, wrong protocol version, ... It
  raises nothing else, whatever the bytes are.

Built-in decoders (one module each; the module docstring lists the fields and units):
``cayenne-lpp``, ``elsys``, ``dragino-ldds75`` and ``decentlab-dl-mbx``.

Plug-ins
--------
Other decoders come from installed Python distributions that declare an entry point in the
group ``quartier.decoders``: the entry point's name is the decoder's name (what a device
profile refers to) and its object is the decoder callable. A third-party package declares one
in its ``pyproject.toml``::

    [project.entry-points."quartier.decoders"]
    "acme-tank-level" = "acme_quartier.tank:decode"

where ``acme_quartier/tank.py`` holds::

    from typing import Any

    from quartier.lorawan.decoders import DecodeError

    def decode(payload: bytes, f_port: int | None) -> dict[str, Any]:
        if len(payload) != 4:
            raise DecodeError(f"a tank reading is 4 bytes, this payload has {len(payload)}")
        return {"distance": int.from_bytes(payload[:2], "big"), "batteryVoltage": payload[2] / 50}

The built-ins are registered through the same mechanism as plug-ins, in one registry. It is
built on first use (:func:`get_decoder` or :func:`decoder_names`) and kept for the life of the
process, so installing a plug-in takes a restart. A plug-in that cannot be imported, or whose
object is not callable, is logged as a warning and skipped; the other decoders stay usable. A
plug-in cannot replace a built-in: a name already taken is logged and ignored.
"""

from __future__ import annotations

from quartier.lorawan.decoders._base import DecodeError, Decoder
from quartier.lorawan.decoders._registry import ENTRY_POINT_GROUP, decoder_names, get_decoder

__all__ = ["ENTRY_POINT_GROUP", "DecodeError", "Decoder", "decoder_names", "get_decoder"]
