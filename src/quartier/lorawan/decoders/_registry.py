"""One registry of payload decoders: the built-ins and the ``quartier.decoders`` entry points.

Built-in decoders are described by the same ``EntryPoint`` objects that an installed plug-in
declares, and go through the same loading code. The registry is built on first use and kept.
"""

from __future__ import annotations

import functools
import importlib.metadata
import logging
from collections.abc import Iterable
from typing import cast

from quartier.errors import BadRequest
from quartier.lorawan.decoders._base import Decoder

ENTRY_POINT_GROUP = "quartier.decoders"

_PACKAGE = "quartier.lorawan.decoders"
BUILT_IN: tuple[importlib.metadata.EntryPoint, ...] = tuple(
    importlib.metadata.EntryPoint(name=name, value=f"{_PACKAGE}.{module}:decode", group=ENTRY_POINT_GROUP)
    for name, module in (
        ("cayenne-lpp", "cayenne_lpp"),
        ("decentlab-dl-mbx", "decentlab_dl_mbx"),
        ("dragino-ldds75", "dragino_ldds75"),
        ("elsys", "elsys"),
    )
)

logger = logging.getLogger(__name__)


def _installed_entry_points() -> Iterable[importlib.metadata.EntryPoint]:
    try:
        return tuple(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP))
    except Exception:
        logger.warning(
            "could not list the %r entry points; only the built-in payload decoders are available",
            ENTRY_POINT_GROUP,
            exc_info=True,
        )
        return ()


def _load(entry_point: importlib.metadata.EntryPoint) -> Decoder | None:
    try:
        loaded = entry_point.load()
    except Exception as exc:
        logger.warning(
            "payload decoder %r (%s) could not be loaded and is skipped: %s: %s",
            entry_point.name,
            entry_point.value,
            type(exc).__name__,
            exc,
            exc_info=True,
        )
        return None
    if not callable(loaded):
        logger.warning(
            "payload decoder %r (%s) is a %s, not a callable, and is skipped",
            entry_point.name,
            entry_point.value,
            type(loaded).__name__,
        )
        return None
    return cast(Decoder, loaded)


@functools.cache
def loaded_decoders() -> dict[str, Decoder]:
    """Every decoder by name, loaded once; ``loaded_decoders.cache_clear()`` forgets them."""
    decoders: dict[str, Decoder] = {}
    sources: dict[str, str] = {}
    for entry_point in (*BUILT_IN, *_installed_entry_points()):
        name = entry_point.name
        if name in sources:
            # The same distribution can be seen twice on sys.path; only a different target is a conflict.
            if sources[name] != entry_point.value:
                logger.warning(
                    "payload decoder %r (%s) is ignored: the name is already taken by %s",
                    name,
                    entry_point.value,
                    sources[name],
                )
            continue
        decoder = _load(entry_point)
        if decoder is not None:
            decoders[name] = decoder
            sources[name] = entry_point.value
    return decoders


def decoder_names() -> list[str]:
    """The names of all usable decoders, built-ins and plug-ins, sorted."""
    return sorted(loaded_decoders())


def get_decoder(name: str) -> Decoder:
    """The decoder called ``name``; BadRequest naming the known decoders when there is none."""
    decoder = loaded_decoders().get(name)
    if decoder is None:
        known = decoder_names()
        raise BadRequest(
            f"unknown payload decoder {name!r}; known decoders: {', '.join(known)}",
            decoder=name,
            known=known,
        )
    return decoder
