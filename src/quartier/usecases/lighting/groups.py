"""Saved groups of street lamps, by name: a list of Thing ids, or a ``$filter`` on Things
that is evaluated whenever the group is used (so new lamps that match join it)."""

from __future__ import annotations

import re
from typing import Any

from quartier.errors import BadRequest
from quartier.model.parse import known_members, parse_id
from quartier.usecases.lighting.named import NamedDefinitions

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._-]{0,99}")
MAX_THINGS = 10_000


def parse_group(body: Any) -> tuple[str, dict[str, Any]]:
    """(name, definition) from ``{"name", "things": [ids]}`` or ``{"name", "filter"}``."""
    if not isinstance(body, dict):
        raise BadRequest('a group is {"name": …, "things": [ids]} or {"name": …, "filter": …}')
    known_members(body, {"name", "things", "filter"}, "a group")
    name = body.get("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise BadRequest(f"name must be 1 to 100 letters, digits, spaces, '.', '_' or '-', "
                         f"not {name!r}")
    if ("things" in body) == ("filter" in body):
        raise BadRequest("a group has either things (a list of Thing ids) or a filter")
    if "filter" in body:
        text = body["filter"]
        if not isinstance(text, str) or not text.strip():
            raise BadRequest("filter must be a $filter expression on Things")
        return name, {"filter": text}
    things = body["things"]
    if not isinstance(things, list) or not things or len(things) > MAX_THINGS:
        raise BadRequest(f"things must be a list of 1 to {MAX_THINGS} Thing ids")
    return name, {"things": sorted({parse_id(t, "things[]") for t in things})}


_BOOK = NamedDefinitions("lighting_groups", "lighting group")
create, listing, find, delete, put = _BOOK.create, _BOOK.listing, _BOOK.find, _BOOK.delete, _BOOK.put
