"""The packages that come with Quartier, as data files beside this module: the demo
town's street lighting and fleet, for any town to install as they are or to start from."""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import orjson

BUILT_IN = ("street-lighting", "fleet")


@cache
def _text(name: str) -> bytes:
    return resources.files("quartier.usecases.packages").joinpath(f"{name}.json").read_bytes()


def built_in(name: str) -> dict[str, Any] | None:
    """A fresh copy of the built-in package file ``name``, or None."""
    if name not in BUILT_IN:
        return None
    body: dict[str, Any] = orjson.loads(_text(name))
    return body
