"""A third-party payload decoder as a plug-in would ship it; test_decoders.py points entry points here."""

from __future__ import annotations

from typing import Any

NOT_A_DECODER = 42


def decode(payload: bytes, f_port: int | None) -> dict[str, Any]:
    return {"byteCount": len(payload), "firstByte": payload[0] if payload else None, "fPort": f_port}
