"""The rules engine: evaluates every committed Observation against the rules that watch its
Datastream, and keeps alerts in step.

It listens to the store's stream of committed changes (the same one the MQTT publisher
hears) and works in its own task, so that writers never wait for it. For each batch it
reads, locks and updates the state of each (rule, subject) it touches in one transaction,
together with the alerts it opens, changes or resolves: with several worker processes
each evaluates its own writes, and the lock keeps two of them from opening one alert
twice. Staleness and geofences run on a clock.

Nothing is forgotten over a restart: the state (level, pending level and since when) is in
the database, and at start the engine evaluates again the Observations of the last
:data:`LOOKBACK` seconds (at least as long as the longest ``for`` or ``within``) that are
newer than what each state has seen. Doing so twice changes nothing, since a state only
moves on with newer values. Values older than that window (history being imported or
backfilled) are stored but not evaluated: they are not news.
"""

from __future__ import annotations

import asyncio
import logging
import time
import zlib
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from quartier.background import cancel_all
from quartier.model.changes import ChangeEvent
from quartier.model.entities import ENTITY_TYPES
from quartier.model.times import format_instant, parse_instant_or_interval
from quartier.model.values import JSON, TIME
from quartier.rules.alerts import Alerts
from quartier.rules.book import RuleBook
from quartier.rules.definition import Condition, Rule
from quartier.rules.evaluate import Recent, advance, estimate_next, reading
from quartier.rules.positions import PositionPairs
from quartier.store import Store
from quartier.store.read import decode_row, returning_columns

log = logging.getLogger(__name__)

REFRESH_EVERY = 10.0  # seconds between reloads of the rules (others may change them)
CLOCK_EVERY = 15.0  # seconds between staleness checks
LOOKBACK = 3_600.0  # seconds evaluated again at start (at least)
PENDING_BATCHES = 512
MAX_EVENTS = 50_000  # changes evaluated together at most
RECENT_MAX = 200  # values kept per subject for rates and trends
_OBSERVATION = ENTITY_TYPES["Observation"]


@dataclass(frozen=True)
class Sample:
    tenant_id: int
    subject: str  # datastream:12 or thing:5
    t: float
    value: Any


@dataclass(frozen=True)
class Watch:
    rule: Rule
    subject: str
    limits: tuple[float, ...]


class RuleEngine:
    def __init__(self, store: Store, alerted: Callable[[], None] | None = None) -> None:
        self.store = store
        self.alerted = alerted  # told after a commit that changed an alert (notifications)
        self._alerts_changed = False
        self.book = RuleBook(store)
        self.alerts = Alerts(store)
        self.queue: asyncio.Queue[list[ChangeEvent]] = asyncio.Queue(PENDING_BATCHES)
        self.watches: dict[str, list[Watch]] = {}  # subject -> what watches it
        self.stale: list[tuple[Rule, list[str]]] = []
        self.recent: dict[tuple[int, str], Recent] = {}
        self.missed = False  # a batch did not fit in the queue: catch up from the database
        self._tasks: list[asyncio.Task[None]] = []
        self._refreshed = 0.0
        self._refreshing = asyncio.Lock()
        self._parsed: dict[int, Rule] = {}  # id -> rule as last read (by revision)
        self.horizon = LOOKBACK  # how old a value may be and still be evaluated (seconds)
        self.evaluated = 0  # Observations looked at (for benchmarks)
        self.positions = PositionPairs()  # geofences on Things with position Datastreams
        # What "now" is (seconds since the epoch) for telling news from history and for
        # staleness: the wall clock, or the demo town's clock when it runs ahead.
        self.clock: Callable[[], float] = time.time

    # -- lifecycle --------------------------------------------------------------------

    async def start(self) -> None:
        await self.refresh()
        self.store.subscribe(self._listen)
        await self.catch_up()
        self._tasks = [asyncio.create_task(self._work(), name="rules-worker"),
                       asyncio.create_task(self._clock(), name="rules-clock")]

    async def stop(self) -> None:
        await cancel_all(self._tasks)
        self._tasks = []

    def _listen(self, events: Sequence[ChangeEvent]) -> None:
        wanted = [e for e in events if e.operation == "create"
                  and e.entity_type in ("Observation", "HistoricalLocation")]
        if not wanted or not self.watches:
            return
        try:
            self.queue.put_nowait(wanted)
        except asyncio.QueueFull:
            self.missed = True  # the clock catches up from the database

    async def _work(self) -> None:
        while True:
            events = list(await self.queue.get())
            # Whatever queued up meanwhile goes into the same evaluation: one read and one
            # transaction for many batches, so that the engine keeps up with the writers.
            while not self.queue.empty() and len(events) < MAX_EVENTS:
                events += self.queue.get_nowait()
            try:
                await self.handle(events)
            except Exception:
                log.exception("could not evaluate the rules for %d changes; catching up", len(events))
                self.missed = True

    async def _clock(self) -> None:
        while True:
            await asyncio.sleep(CLOCK_EVERY)
            try:
                if time.monotonic() - self._refreshed >= REFRESH_EVERY:
                    await self.refresh()
                if self.missed:
                    self.missed = False
                    await self.catch_up()
                await self.check_stale()
                await self.check_held()
            except Exception:
                log.exception("the rules clock failed; trying again")

    # -- what watches what ------------------------------------------------------------

    async def refresh(self) -> None:
        """Reload the rules and what each watches (new Datastreams join their rules)."""
        async with self._refreshing:
            await self._refresh()

    async def _refresh(self) -> None:
        async with self.store.reader() as conn:
            current = {int(i): int(rev) for i, rev in await conn.fetch(
                "SELECT id, revision FROM rules WHERE enabled = ?", (True,))}
        changed = [i for i, rev in current.items()
                   if i not in self._parsed or self._parsed[i].revision != rev]
        for rule in await self.book.by_ids(changed):
            assert rule.id is not None
            self._parsed[rule.id] = rule
        self._parsed = {i: r for i, r in self._parsed.items() if i in current}
        rules = [r for r in self._parsed.values() if r.enabled]
        watches: dict[str, list[Watch]] = defaultdict(list)
        stale: list[tuple[Rule, list[str]]] = []
        async with self.store.reader() as conn:
            streams = _Streams(await self._datastreams(conn, rules))
            things = await self._things(conn, rules)
        for rule in rules:
            subjects = _subjects(rule, streams, things)
            if rule.condition.type == "stale":
                stale.append((rule, [s for s, _ in subjects]))
                continue
            for subject, limits in subjects:
                watches[subject].append(Watch(rule, subject, limits))
        watched_things = sorted(int(s[len("thing:"):]) for s in watches if s.startswith("thing:"))
        if watched_things or self.positions.fields:
            async with self.store.reader() as conn:
                await self.positions.load(conn, self.store.dialect.decode, watched_things)
        self.watches, self.stale = dict(watches), stale
        self.horizon = max([LOOKBACK] + [_reach(r.condition) for r in rules])
        self._refreshed = time.monotonic()

    async def rules_changed(self) -> None:
        """After a change through the API: this process watches by the new rules before
        the answer goes out (a reload reads again only the rules that changed)."""
        await self.refresh()

    async def _datastreams(self, conn: Any, rules: list[Rule]) -> list[_Stream]:
        """The Datastreams any rule may watch, read in one go."""
        ids = sorted({r.target.datastream for r in rules if r.target.datastream is not None})
        properties = sorted({r.target.observed_property for r in rules
                             if r.target.observed_property is not None})
        names = sorted({r.target.observed_property_name for r in rules
                        if r.target.observed_property_name is not None})
        decode = self.store.dialect.decode
        head = ("SELECT d.id, d.tenant_id, d.properties, t.properties, o.id, o.name FROM datastreams d "
                "JOIN things t ON t.id = d.thing_id JOIN observed_properties o "
                "ON o.id = d.observed_property_id WHERE ")
        rows: list[Any] = []
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            rows += await conn.fetch(head + f"d.id IN ({', '.join('?' for _ in chunk)})", chunk)
        if properties:
            rows += await conn.fetch(head + f"o.id IN ({', '.join('?' for _ in properties)})", properties)
        if names:
            rows += await conn.fetch(head + f"o.name IN ({', '.join('?' for _ in names)})", names)
        seen: dict[int, _Stream] = {}
        for ds_id, tenant_id, ds_props, thing_props, op_id, op_name in rows:
            seen[int(ds_id)] = _Stream(int(ds_id), int(tenant_id), decode(JSON, ds_props),
                                       decode(JSON, thing_props), int(op_id), str(op_name))
        return list(seen.values())

    async def _things(self, conn: Any, rules: list[Rule]) -> list[tuple[int, int, Any]]:
        tenants = sorted({r.tenant_id for r in rules if r.target.things is not None and r.tenant_id})
        if not tenants:
            return []
        rows = await conn.fetch("SELECT id, tenant_id, properties FROM things WHERE tenant_id IN "
                                f"({', '.join('?' for _ in tenants)})", tenants)
        return [(int(r[0]), int(r[1]), self.store.dialect.decode(JSON, r[2])) for r in rows]

    # -- evaluation -------------------------------------------------------------------

    async def handle(self, events: Sequence[ChangeEvent]) -> None:
        """Evaluate one batch of committed changes."""
        samples = await self._samples(events)
        if samples:
            await self.evaluate(samples)

    async def _samples(self, events: Sequence[ChangeEvent]) -> list[Sample]:
        out: list[Sample] = []
        missing: list[int] = []
        moved: list[int] = []
        for e in events:
            if e.entity_type == "HistoricalLocation":
                moved.append(e.id)
            elif e.row is not None:
                sample = self._observation_sample(e.tenant_id, e.row)
                if sample is not None:
                    out.append(sample)
            elif e.facts is not None:
                sample = self._fact_sample(e.tenant_id, *e.facts)
                if sample is not None:
                    out.append(sample)
            else:
                missing.append(e.id)
        if missing:
            rows = await self._observation_rows(missing)
            out += [s for s in (self._observation_sample(t, r) for t, r in rows) if s is not None]
        if moved:
            out += await self._positions(moved)
        return out

    def _observation_sample(self, tenant_id: int, row: dict[str, Any]) -> Sample | None:
        if (f"datastream:{row['Datastream']}" not in self.watches
                and row["Datastream"] not in self.positions.fields):
            return None  # not watched: no need to read its time
        when = parse_instant_or_interval(row["phenomenonTime"], "phenomenonTime")
        return self._fact_sample(tenant_id, row["Datastream"], when, row["result"])

    def _fact_sample(self, tenant_id: int, datastream: int, when: Any, result: Any) -> Sample | None:
        """The value a rule may look at: of a watched Datastream, and not history."""
        subject = f"datastream:{datastream}"
        if not isinstance(when, tuple) or (subject not in self.watches
                                           and datastream not in self.positions.fields):
            return None
        start, end = when
        t = (end or start).timestamp()
        if t < self.clock() - self.horizon:
            return None  # history (an import, a backfill): stored, but no news
        if datastream in self.positions.fields:
            position = self.positions.feed(datastream, t, result)
            return None if position is None else Sample(tenant_id, f"thing:{position[0]}", t, position[1])
        return Sample(tenant_id, subject, t, result)

    async def _observation_rows(self, ids: list[int]) -> list[tuple[int, dict[str, Any]]]:
        out = []
        async with self.store.reader() as conn:
            for start in range(0, len(ids), 5_000):
                chunk = ids[start:start + 5_000]
                among, params = self.store.dialect.among("id", chunk)
                rows = await conn.fetch(
                    f"SELECT {returning_columns(_OBSERVATION)}, tenant_id FROM observations "
                    f"WHERE {among}", params)
                out += [(int(r[-1]), decode_row(_OBSERVATION, r, self.store.dialect)) for r in rows]
        return out

    async def _positions(self, history_ids: list[int]) -> list[Sample]:
        """Where Things are after a move: (lon, lat) of their first Location."""
        out = []
        async with self.store.reader() as conn:
            for hl in history_ids:
                row = await conn.fetchrow(
                    "SELECT h.tenant_id, h.thing_id, h.time, l.location FROM historical_locations h "
                    "JOIN things_locations tl ON tl.thing_id = h.thing_id "
                    "JOIN locations l ON l.id = tl.location_id WHERE h.id = ? ORDER BY l.id LIMIT 1",
                    (hl,))
                if row is None or f"thing:{row[1]}" not in self.watches:
                    continue
                geometry = self.store.dialect.decode(JSON, row[3])
                when = self.store.dialect.decode(TIME, row[2])
                if isinstance(geometry, dict) and geometry.get("type") == "Point":
                    out.append(Sample(int(row[0]), f"thing:{row[1]}", when.timestamp(),
                                      list(geometry["coordinates"][:2])))
        return out

    async def evaluate(self, samples: list[Sample]) -> None:
        """Move each touched (rule, subject) on by its new values, in one transaction."""
        by_subject: dict[str, list[Sample]] = defaultdict(list)
        for s in samples:
            by_subject[s.subject].append(s)
        work = [(w, sorted(by_subject[subject], key=lambda s: s.t))
                for subject in by_subject for w in self.watches.get(subject, ())]
        if not work:
            return
        self.evaluated += len(samples)
        async with self.store.transaction() as conn:
            states = await self._states(conn, [(w.rule.id, w.subject) for w, _ in work])
            for watch, values in work:
                await self._step(conn, watch, values, states.get((watch.rule.id or 0, watch.subject)))
        self._tell()

    def _tell(self) -> None:
        """After the commit: the notifications look for work now."""
        if self._alerts_changed and self.alerted is not None:
            self.alerted()
        self._alerts_changed = False

    async def _states(self, conn: Any, keys: list[tuple[int | None, str]]
                      ) -> dict[tuple[int, str], tuple[dict[str, Any], int | None]]:
        out = {}
        if self.store.dialect.name == "postgresql":
            # One evaluation of a subject at a time across worker processes, also for a
            # subject that has no state row yet (which FOR UPDATE cannot lock).
            locks = sorted({(int(r or 0) << 32) | zlib.crc32(s.encode()) for r, s in keys})
            await conn.fetch("SELECT pg_advisory_xact_lock(k) FROM unnest(?::bigint[]) AS k "
                             "ORDER BY k", (locks,))
        lock = " FOR UPDATE" if self.store.dialect.name == "postgresql" else ""
        for start in range(0, len(keys), 400):
            chunk = keys[start:start + 400]
            where = " OR ".join("(rule_id = ? AND subject = ?)" for _ in chunk)
            params = [v for key in chunk for v in key]
            rows = await conn.fetch(
                f"SELECT rule_id, subject, state, alert_id FROM rule_states WHERE {where}{lock}", params)
            for rule_id, subject, state, alert_id in rows:
                out[(int(rule_id), str(subject))] = (self.store.dialect.decode(JSON, state), alert_id)
        return out

    async def _step(self, conn: Any, watch: Watch, values: list[Sample],
                    stored: tuple[dict[str, Any], int | None] | None) -> None:
        rule = watch.rule
        assert rule.id is not None
        state: dict[str, Any] = {"level": 0, "pending": None, "t": None}
        alert_id: int | None = None
        if stored is not None:
            state, alert_id = stored
        key = (rule.id, watch.subject)
        recent = self.recent.setdefault(key, [])
        before = (state.get("level"), state.get("pending"), alert_id)
        for sample in values:
            seen = state.get("t")
            if seen is not None and sample.t <= seen:
                continue  # evaluated before (or late): a state only moves on with newer values
            verdict = reading(rule.condition, watch.limits, sample.value, recent, sample.t,
                              int(state.get("level") or 0))
            if isinstance(sample.value, int | float) and not isinstance(sample.value, bool):
                recent.append((sample.t, float(sample.value)))
                keep = max(rule.condition.within, 3 * 3_600.0)
                while recent and (recent[0][0] < sample.t - keep or len(recent) > RECENT_MAX):
                    recent.pop(0)
            if verdict is None:
                continue
            old = int(state.get("level") or 0)
            state = advance(state, verdict, sample.t, rule.condition.hold)
            if state["pending"] is not None:  # the value the clock's alert would show
                state["pending"]["value"] = sample.value
            alert_id = await self._follow(conn, watch, old, int(state["level"] or 0), alert_id,
                                          sample)
        if (state.get("level"), state.get("pending"), alert_id) != before:
            await self._save(conn, rule.id, watch.subject, state, alert_id)

    async def _follow(self, conn: Any, watch: Watch, old: int, level: int, alert_id: int | None,
                      sample: Sample) -> int | None:
        """Open, change or resolve the alert after a value; its id afterwards."""
        rule = watch.rule
        observed = datetime.fromtimestamp(sample.t, UTC)
        if level == old:
            if alert_id is not None and level:
                await self.alerts.note_value(conn, alert_id, sample.value, observed,
                                             rule.condition.direction != "below",
                                             self._estimate(watch, level))
            return alert_id
        context = await self._context(conn, watch, level)
        self._alerts_changed = True
        if level == 0:
            if alert_id is not None:
                await self.alerts.close(conn, int(rule.tenant_id or 0), alert_id)
            return None
        if alert_id is None:
            if level < old:
                return None  # resolved by hand while the condition held; easing is no news
            return await self.alerts.open(conn, rule, watch.subject, context, level, sample.value,
                                          observed)
        await self.alerts.change_level(conn, rule, alert_id, context, old, level, sample.value,
                                       observed)
        return alert_id

    async def _context(self, conn: Any, watch: Watch, level: int) -> dict[str, Any]:
        """Names, unit and place of a subject, for the alert's message and area."""
        kind, _, raw_id = watch.subject.partition(":")
        decode = self.store.dialect.decode
        out: dict[str, Any] = {"subject": watch.subject}
        if kind == "datastream":
            row = await conn.fetchrow(
                "SELECT d.name, d.unit_of_measurement, t.id, t.name FROM datastreams d "
                "JOIN things t ON t.id = d.thing_id WHERE d.id = ?", (int(raw_id),))
            if row is not None:
                unit = decode(JSON, row[1]) or {}
                out.update(datastream_id=int(raw_id), datastream=row[0], thing_id=int(row[2]),
                           thing=row[3], unit=unit.get("symbol") if isinstance(unit, dict) else None)
        else:
            row = await conn.fetchrow("SELECT name FROM things WHERE id = ?", (int(raw_id),))
            out.update(thing_id=int(raw_id), thing=row[0] if row else None)
        if out.get("thing_id") is not None:
            place = await conn.fetchval(
                "SELECT l.location FROM things_locations tl JOIN locations l ON l.id = tl.location_id "
                "WHERE tl.thing_id = ? ORDER BY l.id LIMIT 1", (out["thing_id"],))
            out["area"] = decode(JSON, place)
        out["estimate"] = self._estimate(watch, level)
        return out

    def _estimate(self, watch: Watch, level: int) -> dict[str, Any] | None:
        """When the next level would come at the recent trend, labelled as an estimate."""
        if watch.rule.condition.type != "threshold" or len(watch.limits) <= level:
            return None
        recent = self.recent.get((watch.rule.id or 0, watch.subject), [])
        found = estimate_next(watch.limits, level, recent, watch.rule.condition.direction)
        if found is None:
            return None
        return {**found, "at": format_instant(datetime.fromtimestamp(found["at"], UTC)),
                "levelName": watch.rule.level(found["level"]).name}

    async def _save(self, conn: Any, rule_id: int, subject: str, state: dict[str, Any],
                    alert_id: int | None) -> None:
        encode = self.store.dialect.encode
        await conn.execute(
            "INSERT INTO rule_states (rule_id, subject, state, alert_id, updated_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (rule_id, subject) DO UPDATE SET "
            "state = excluded.state, alert_id = excluded.alert_id, updated_at = excluded.updated_at",
            (rule_id, subject, encode(JSON, state), alert_id, encode(TIME, datetime.now(UTC))))

    # -- catching up and the clock ----------------------------------------------------

    async def catch_up(self) -> None:
        """Evaluate again what was written in the last while (after a start, or when
        changes came faster than the engine took them)."""
        datastreams = sorted({int(s.split(":")[1]) for s in self.watches if s.startswith("datastream:")}
                             | set(self.positions.fields))
        if not datastreams:
            return
        since = self.store.dialect.encode(TIME, datetime.fromtimestamp(self.clock() - self.horizon, UTC))
        columns = returning_columns(_OBSERVATION)
        async with self.store.reader() as conn:
            for start in range(0, len(datastreams), 500):
                chunk = datastreams[start:start + 500]
                among, params = self.store.dialect.among("datastream_id", chunk)
                rows = await conn.fetch(
                    f"SELECT {columns}, tenant_id FROM observations WHERE {among} "
                    "AND phenomenon_time_start >= ? ORDER BY phenomenon_time_start",
                    [*params, since])
                samples = [s for s in (self._observation_sample(int(r[-1]), decode_row(
                    _OBSERVATION, r, self.store.dialect)) for r in rows) if s is not None]
                if samples:
                    await self.evaluate(samples)

    async def check_stale(self) -> None:
        """Open or resolve staleness alerts: no Observation for longer than ``after``."""
        now = self.clock()
        for rule, subjects in self.stale:
            ids = [int(s.split(":")[1]) for s in subjects]
            if not ids:
                continue
            async with self.store.reader() as conn:
                rows = await conn.fetch(
                    "SELECT id, phenomenon_time_end, phenomenon_time_start FROM datastreams "
                    f"WHERE id IN ({', '.join('?' for _ in ids)})", ids)
            samples = []
            for ds_id, end, start in rows:
                last = self.store.dialect.decode(TIME, end or start)
                if last is None:
                    continue  # never reported: nothing to miss yet
                quiet = now - last.timestamp()
                samples.append((f"datastream:{ds_id}", int(quiet > rule.condition.within), quiet))
            await self._stale_levels(rule, samples, now)

    async def check_held(self) -> None:
        """Reach the levels whose ``for`` has passed with no value since that clears them:
        the last value stands until the next one, so a gauge that reports every 15 minutes
        raises a ``for: PT10M`` alert 10 minutes after its first high value, not 15."""
        holding = {(w.rule.id, w.subject): w for watches in self.watches.values()
                   for w in watches if w.rule.condition.hold > 0}
        if not holding:
            return
        now = self.clock()
        rule_ids = sorted({rule_id for rule_id, _ in holding if rule_id is not None})
        async with self.store.reader() as conn:
            among, params = self.store.dialect.among("rule_id", rule_ids)
            rows = await conn.fetch(f"SELECT rule_id, subject, state FROM rule_states WHERE {among}",
                                    params)
        due = [holding[key] for key, state in
               (((int(r[0]), str(r[1])), self.store.dialect.decode(JSON, r[2])) for r in rows)
               if key in holding and _held(state, holding[key].rule.condition.hold, now, self.horizon)]
        if not due:
            return
        async with self.store.transaction() as conn:
            states = await self._states(conn, [(w.rule.id, w.subject) for w in due])
            for watch in due:
                assert watch.rule.id is not None
                stored = states.get((watch.rule.id, watch.subject))
                if stored is None or not _held(stored[0], watch.rule.condition.hold, now, self.horizon):
                    continue  # another worker was first, or a value came meanwhile
                state, alert_id = stored
                pending = state["pending"]
                sample = Sample(int(watch.rule.tenant_id or 0), watch.subject,
                                float(state["t"]), pending.get("value"))
                alert_id = await self._follow(conn, watch, int(state.get("level") or 0),
                                              int(pending["level"]), alert_id, sample)
                await self._save(conn, watch.rule.id, watch.subject,
                                 {"level": pending["level"], "pending": None, "t": state["t"]},
                                 alert_id)
        self._tell()

    async def _stale_levels(self, rule: Rule, samples: list[tuple[str, int, float]], now: float) -> None:
        async with self.store.transaction() as conn:
            states = await self._states(conn, [(rule.id, s) for s, _, _ in samples])
            for subject, level, quiet in samples:
                state, alert_id = states.get((rule.id or 0, subject), ({"level": 0}, None))
                old = int(state.get("level", 0))
                if level == old:
                    continue
                watch = Watch(rule, subject, ())
                sample = Sample(int(rule.tenant_id or 0), subject, now,
                                round(quiet / 60, 1))  # minutes without data
                alert_id = await self._follow(conn, watch, old, level, alert_id, sample)
                assert rule.id is not None
                await self._save(conn, rule.id, subject, {"level": level, "pending": None, "t": now},
                                 alert_id)
        self._tell()


@dataclass(frozen=True)
class _Stream:
    id: int
    tenant_id: int
    properties: Any
    thing_properties: Any
    observed_property: int
    observed_property_name: str


class _Streams:
    """The Datastreams rules may watch, found by id, ObservedProperty id or name."""

    def __init__(self, streams: list[_Stream]) -> None:
        self.by_key: dict[Any, list[_Stream]] = defaultdict(list)
        for d in streams:
            self.by_key[("id", d.id)].append(d)
            self.by_key[("op", d.tenant_id, d.observed_property)].append(d)
            self.by_key[("name", d.tenant_id, d.observed_property_name)].append(d)

    def of(self, rule: Rule) -> list[_Stream]:
        target = rule.target
        if target.datastream is not None:
            return [d for d in self.by_key.get(("id", target.datastream), [])
                    if d.tenant_id == rule.tenant_id]
        if target.observed_property is not None:
            return self.by_key.get(("op", rule.tenant_id, target.observed_property), [])
        return self.by_key.get(("name", rule.tenant_id, target.observed_property_name), [])


def _subjects(rule: Rule, streams: _Streams, things: list[tuple[int, int, Any]]
              ) -> list[tuple[str, tuple[float, ...]]]:
    """What ``rule`` watches, with the levels for each."""
    target, condition = rule.target, rule.condition
    if target.thing is not None:
        return [(f"thing:{target.thing}", ())]
    if target.things is not None:
        return [(f"thing:{i}", ()) for i, tenant, props in things
                if tenant == rule.tenant_id and _matches(props, target.things)]
    out = []
    for d in streams.of(rule):
        if not _matches(d.thing_properties, target.where):
            continue
        limits = condition.limits
        if condition.limits_property:
            # The Datastream's own levels, else its Thing's (a lamp's rated power).
            limits = (_limits_from(d.properties, condition.limits_property, condition.direction)
                      or _limits_from(d.thing_properties, condition.limits_property,
                                      condition.direction))
            limits = tuple(v * condition.factor for v in limits)
            if not limits:
                continue  # this Datastream gives no levels: not watched
        out.append((f"datastream:{d.id}", limits))
    return out


def _held(state: Any, hold: float, now: float, horizon: float) -> bool:
    """Whether a state's pending level has held for ``hold`` seconds by ``now``, on a
    last value that is still news (no older than ``horizon`` seconds: a device silent
    for days raises no alert from its last value; staleness rules are for that)."""
    if not isinstance(state, dict):
        return False
    pending, seen = state.get("pending"), state.get("t")
    return (isinstance(pending, dict) and seen is not None
            and now - float(pending["since"]) >= hold and now - float(seen) <= horizon)


def _reach(condition: Condition) -> float:
    """How far back a condition looks: its duration and window, and those of its parts."""
    return condition.hold + max([condition.within] + [_reach(p) for p in condition.parts])


def _matches(properties: Any, wanted: dict[str, Any]) -> bool:
    if not wanted:
        return True
    if not isinstance(properties, dict):
        return False
    return all(properties.get(k) == v for k, v in wanted.items())


def _limits_from(properties: Any, name: str, direction: str) -> tuple[float, ...]:
    """Levels from a Datastream property: a number, a list, or an object like
    {"1": 185, "2": 230}."""
    if not isinstance(properties, dict):
        return ()
    raw = properties.get(name)
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        raw = [raw]  # one level, e.g. {"limit": 1.0}
    if isinstance(raw, dict):
        raw = [raw[k] for k in sorted(raw, key=lambda k: (len(k), k))]
    if not isinstance(raw, list) or not raw:
        return ()
    values = [float(v) for v in raw if isinstance(v, int | float) and not isinstance(v, bool)]
    ordered = sorted(values) if direction == "above" else sorted(values, reverse=True)
    return tuple(values) if values == ordered and len(values) == len(raw) else ()
