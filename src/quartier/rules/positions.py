"""Positions of Things from their ``latitude`` and ``longitude`` Datastreams, for geofences.

Trackers send a position as two Observations of the same phenomenon time (Datastreams
with the property ``field`` ``latitude`` and ``longitude``), not as a new Location. A
geofence on such a Thing sees a position once both halves have come, in whichever order
and batch; halves that never find their partner are dropped after :data:`KEEP`.
"""

from __future__ import annotations

from typing import Any

from quartier.model.values import JSON

FIELDS = ("latitude", "longitude")
KEEP = 4_096  # unpaired halves kept at most


class PositionPairs:
    def __init__(self) -> None:
        self.fields: dict[int, tuple[int, str]] = {}  # datastream -> (thing, field)
        self._halves: dict[tuple[int, float], dict[str, float]] = {}

    async def load(self, conn: Any, decode: Any, thing_ids: list[int]) -> None:
        """The position Datastreams of ``thing_ids``."""
        found: dict[int, tuple[int, str]] = {}
        for start in range(0, len(thing_ids), 500):
            chunk = thing_ids[start:start + 500]
            rows = await conn.fetch("SELECT id, thing_id, properties FROM datastreams WHERE thing_id IN "
                                    f"({', '.join('?' for _ in chunk)})", chunk)
            for datastream_id, thing_id, raw in rows:
                properties = decode(JSON, raw)
                field = properties.get("field") if isinstance(properties, dict) else None
                if field in FIELDS:
                    found[int(datastream_id)] = (int(thing_id), field)
        self.fields = found

    def feed(self, datastream: int, t: float, value: Any) -> tuple[int, list[float]] | None:
        """A half of a position; (thing id, [lon, lat]) when it completes one."""
        thing_field = self.fields.get(datastream)
        if thing_field is None or isinstance(value, bool) or not isinstance(value, int | float):
            return None
        thing, field = thing_field
        halves = self._halves.setdefault((thing, t), {})
        halves[field] = float(value)
        if len(halves) < len(FIELDS):
            while len(self._halves) > KEEP:
                self._halves.pop(next(iter(self._halves)))
            return None
        del self._halves[(thing, t)]
        return thing, [halves["longitude"], halves["latitude"]]
