"""Confirming Tasks from the committed-change stream: a sent Task is confirmed when an
uplink of its Thing shows the state it commanded.

What "shows" means comes from the encoder: ``expected(parameters)`` names decoded fields
and their values; each Datastream carries its field in ``properties/field`` (as the device
registry makes them). The values must all be in Observations that arrived together or
since the last check (a lamp reports ``state`` and ``dimming`` in one uplink). Numbers
match within half a unit.

The listener only notes which Datastreams got which value; the check reads the sent Tasks
from the database, so it holds with several worker processes. An uplink that arrives
before its Task is recorded as sent is not seen; the Task then fails after the timeout.

While no Task waits for confirmation (as far as this process knows: it sent none since
the last full check), values are kept for the next full check, at most a poll interval
away, rather than looked up at every commit: ingest does not pay for Tasks nobody sent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from quartier.model.changes import ChangeEvent
from quartier.model.entities import ENTITY_TYPES
from quartier.model.values import JSON
from quartier.store import Store
from quartier.store.read import decode_row, returning_columns
from quartier.tasking import outbox
from quartier.tasking.routes import encoder_of

log = logging.getLogger(__name__)

_OBSERVATION = ENTITY_TYPES["Observation"]
MAX_UNREAD = 10_000  # Observations without their values in the event, waiting to be read


def same(reported: Any, wanted: Any) -> bool:
    if isinstance(wanted, bool) or isinstance(reported, bool):
        return reported is wanted
    if isinstance(wanted, int | float) and isinstance(reported, int | float):
        return abs(reported - wanted) <= 0.5
    return bool(reported == wanted)


class Confirmations:
    def __init__(self, store: Store, wake: Callable[[], None]) -> None:
        self.store = store
        self.wake = wake
        self._results: dict[int, Any] = {}  # Datastream id -> its newest value
        self._unread: list[int] = []  # Observation ids whose values the events lack
        # Whether sent Tasks may wait for confirmation (any worker's: set at each full
        # check from the database, and at once when this process sends one).
        self.awaiting = True

    def listen(self, events: Sequence[ChangeEvent]) -> None:
        noted = False
        for e in events:
            if e.entity_type != "Observation" or e.operation != "create":
                continue
            noted = True
            if e.row is not None:
                self._results[e.row["Datastream"]] = e.row["result"]
            elif e.facts is not None:
                self._results[e.facts[0]] = e.facts[2]
            elif len(self._unread) < MAX_UNREAD:
                self._unread.append(e.id)
        if noted:
            self.wake()

    async def check(self, full: bool = True) -> int:
        """Confirm the sent Tasks the values noted since the last check show; returns how
        many were confirmed. Unless ``full``, only when Tasks are known to wait."""
        if not full and not self.awaiting:
            return 0  # the values wait for the next full check
        if full:
            self.awaiting = await outbox.any_awaiting(self.store)
        results, self._results = self._results, {}
        unread, self._unread = self._unread, []
        if not self.awaiting:
            return 0  # no Task to confirm: the values are of no use
        if unread:
            results.update(await self._read(unread))
        if not results:
            return 0
        confirmed = 0
        for task_id, tenant_id, parameters, properties, thing_id, fields in await self._sent(
                list(results)):
            async with self.store.reader() as conn:
                encoder, _ = await encoder_of(conn, tenant_id, properties, thing_id)
            if encoder is None:
                continue
            wanted = encoder.expected(parameters)
            shown = bool(wanted) and all(
                key in fields and fields[key] in results and same(results[fields[key]], value)
                for key, value in wanted.items())
            if shown and await outbox.move(self.store, tenant_id, task_id, "final", "confirmed"):
                confirmed += 1
        return confirmed

    async def _read(self, ids: list[int]) -> dict[int, Any]:
        out: dict[int, Any] = {}
        async with self.store.reader() as conn:
            for start in range(0, len(ids), 500):
                chunk = ids[start:start + 500]
                rows = await conn.fetch(
                    f"SELECT {returning_columns(_OBSERVATION)} FROM observations "
                    f"WHERE id IN ({', '.join('?' for _ in chunk)}) ORDER BY id", chunk)
                for row in rows:
                    obs = decode_row(_OBSERVATION, row, self.store.dialect)
                    out[obs["Datastream"]] = obs["result"]
        return out

    async def _sent(self, datastream_ids: list[int]) -> list[
            tuple[int, int, dict[str, Any], dict[str, Any], int, dict[str, int]]]:
        """Sent, undecided Tasks of the Things of these Datastreams, with each Thing's
        Datastreams by field."""
        decode = self.store.dialect.decode
        out = []
        async with self.store.reader() as conn:
            for start in range(0, len(datastream_ids), 500):
                chunk = datastream_ids[start:start + 500]
                among, params = self.store.dialect.among("id", chunk)
                rows = await conn.fetch(
                    "SELECT t.id, t.tenant_id, t.tasking_parameters, c.properties, c.thing_id "
                    "FROM task_outcomes o JOIN tasks t ON t.id = o.task_id "
                    "JOIN tasking_capabilities c ON c.id = t.tasking_capability_id "
                    f"WHERE {outbox.AWAITING} AND c.thing_id IN "
                    f"(SELECT thing_id FROM datastreams WHERE {among}) ORDER BY t.id", params)
                fields: dict[int, dict[str, int]] = {}
                for row in rows:
                    thing_id = int(row[4])
                    if thing_id not in fields:
                        fields[thing_id] = {}
                        for ds_id, props in await conn.fetch(
                                "SELECT id, properties FROM datastreams WHERE thing_id = ? "
                                "ORDER BY id", (thing_id,)):
                            key = (decode(JSON, props) or {}).get("field")
                            if isinstance(key, str):
                                fields[thing_id].setdefault(key, int(ds_id))
                    out.append((int(row[0]), int(row[1]), decode(JSON, row[2]),
                                decode(JSON, row[3]) or {}, thing_id, fields[thing_id]))
        return out
