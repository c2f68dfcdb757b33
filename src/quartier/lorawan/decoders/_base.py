"""The decoder contract shared by built-in and plug-in payload decoders."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeAlias

Decoder: TypeAlias = Callable[[bytes, int | None], dict[str, Any]]
"""A payload decoder: ``(FRMPayload, fPort or None) -> fields`` with JSON-safe values."""


class DecodeError(ValueError):
    """The payload cannot be read by this decoder; the message says why."""
