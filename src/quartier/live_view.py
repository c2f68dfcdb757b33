"""What one page listening to the live stream may be told.

A tenant's own principal hears everything of its tenant. An anonymous reader hears only
values of public Datastreams, moves of public Things and alerts about them; a region
hears what its members granted it, from every member tenant that granted something. The
rules are those of :mod:`quartier.store.audience`: a :class:`LiveView` reads, with them,
the ids of the Datastreams and Things the reader sees, and lets through only messages
about those. The ids are read again every :data:`REFRESH` seconds while someone
listens, so a Datastream made or hidden meanwhile is heard or silenced within that time.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from quartier.store import Store, audience, visibility
from quartier.store.tenancy import Reader, RegionView

REFRESH = 5.0  # seconds between reads of what a restricted view sees


@dataclass
class LiveView:
    """The reader of a listener: which tenants' messages it hears and, unless it sees
    all of them (``everything``), the Datastreams and Things it may hear about."""

    reader: Reader
    public_only: bool
    tenants: frozenset[int]
    datastreams: set[int] = field(default_factory=set)
    things: set[int] = field(default_factory=set)
    read_at: float = 0.0

    @property
    def everything(self) -> bool:
        return not self.public_only and not isinstance(self.reader, RegionView)

    @property
    def key(self) -> tuple[Reader, bool]:
        return self.reader, self.public_only

    def admit(self, kind: str, data: Any) -> Any:
        """``data`` of a message of ``kind``, narrowed to what the view may hear; None
        when nothing of it is left."""
        if self.everything:
            return data
        if kind == "values":
            kept = [item for item in data if int(item[0]) in self.datastreams]
            return kept or None
        if kind == "moved":
            kept = [item for item in data if int(item[0]) in self.things]
            return kept or None
        if kind == "alert":
            alert = data.get("alert") or {}
            stream, thing = alert.get("datastreamId"), alert.get("thingId")
            if stream is None and thing is None:
                return None if isinstance(self.reader, RegionView) else data
            if (stream is None or stream in self.datastreams) and (thing is None or thing in self.things):
                return data
            return None
        return data

    async def refresh(self, store: Store) -> None:
        """Read again which Datastreams and Things the view may hear about."""
        self.read_at = time.monotonic()
        if self.everything:
            return
        token = visibility.public_only.set(self.public_only)
        try:
            async with store.reader() as conn:
                for kind, table, into in (("Datastream", "datastreams", self.datastreams),
                                          ("Thing", "things", self.things)):
                    condition, params = audience.sees(self.reader, kind, "t")
                    rows = await conn.fetch(f"SELECT t.id FROM {table} t WHERE {condition}", params)
                    into.clear()
                    into.update(int(row[0]) for row in rows)
        finally:
            visibility.public_only.reset(token)


async def view_of(store: Store, tenant_id: int, public_only: bool) -> LiveView:
    """The view of a listener of ``tenant_id``, its ids read."""
    reader = audience.reader_of(store, tenant_id)
    tenants = frozenset({tenant_id})
    if isinstance(reader, RegionView):
        async with store.reader() as conn:
            rows = await conn.fetch("SELECT DISTINCT tenant_id FROM tenant_grants WHERE grantee_id = ?",
                                    (tenant_id,))
        tenants = frozenset(int(row[0]) for row in rows)
    view = LiveView(reader, public_only, tenants)
    await view.refresh(store)
    return view
