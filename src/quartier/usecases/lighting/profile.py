"""The parts of a lighting profile, checked as people write them: the switching offsets
(``{"offset": minutes}`` after sunset for ``on``, after sunrise for ``off``) and the night
dimming (``{"level": 50, "from": "23:00", "until": "05:00"}``). A schedule has one
profile; each of its calendar entries may change parts of it for some nights."""

from __future__ import annotations

import re
from typing import Any

from quartier.errors import BadRequest
from quartier.model.parse import known_members

_CLOCK = re.compile(r"([01]\d|2[0-3]):[0-5]\d")


def whole(raw: Any, what: str, low: int, high: int) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int) or not low <= raw <= high:
        raise BadRequest(f"{what} must be a whole number from {low} to {high}, not {raw!r}")
    return raw


def switch(raw: Any, kind: str, where: str = "") -> dict[str, int]:
    """``on`` or ``off``: {"offset": minutes after sunset (on) or sunrise (off)}."""
    if not isinstance(raw, dict):
        event = "sunset" if kind == "on" else "sunrise"
        raise BadRequest(f'{where}{kind} is {{"offset": minutes after {event}}}')
    known_members(raw, {"offset"}, f"{where}{kind}")
    return {"offset": whole(raw.get("offset", 0), f"{where}{kind}.offset", -240, 240)}


def dimming(raw: Any, where: str = "") -> dict[str, Any]:
    """The night dimming: a level (%) between two local clock times."""
    if not isinstance(raw, dict):
        raise BadRequest(f'{where}dim is {{"level": 50, "from": "23:00", "until": "05:00"}}')
    known_members(raw, {"level", "from", "until"}, f"{where}dim")
    for key in ("from", "until"):
        if not isinstance(raw.get(key), str) or not _CLOCK.fullmatch(raw[key]):
            raise BadRequest(f'{where}dim.{key} must be a local clock time like "23:00"')
    if raw["from"] == raw["until"]:
        raise BadRequest(f"{where}dim.from and {where}dim.until must differ")
    return {"level": whole(raw.get("level"), f"{where}dim.level", 0, 100),
            "from": raw["from"], "until": raw["until"]}
