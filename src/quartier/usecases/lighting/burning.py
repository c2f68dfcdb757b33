"""How long each lamp burned in each period, from its reported on/off state.

A reported state holds until the next report, but at most :data:`HOLD` (a lamp reports
every hour while lit and every few hours while dark; one that falls silent is not counted
as burning for ever), and never past now. Lit is what :func:`status.lit` says: ``on``,
true, a number above 0.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from quartier.store import Store
from quartier.usecases.lighting.status import lit
from quartier.usecases.members import values_between
from quartier.usecases.periods import Period

HOLD = timedelta(hours=6)


def lit_spans(states: list[tuple[datetime, Any]], now: datetime) -> list[tuple[datetime, datetime]]:
    """The spans a lamp burned, from its states in time order."""
    spans = []
    for i, (when, state) in enumerate(states):
        if not lit(state):
            continue
        after = states[i + 1][0] if i + 1 < len(states) else now
        end = min(after, when + HOLD, now)
        if end > when:
            spans.append((when, end))
    return spans


def hours_in(spans: list[tuple[datetime, datetime]], period: Period) -> float:
    """The hours of ``spans`` within ``period``."""
    seconds = 0.0
    for start, end in spans:
        overlap = (min(end, period.end) - max(start, period.start)).total_seconds()
        seconds += max(0.0, overlap)
    return seconds / 3600


async def burning_hours(store: Store, states: dict[int, int], periods: list[Period],
                        now: datetime) -> dict[int, list[float]]:
    """Per lamp (lamp id -> its state Datastream), the hours it burned in each period."""
    if not periods or not states:
        return {}
    # A state reported up to HOLD before the first period still counts in it.
    found = await values_between(store, list(states.values()), periods[0].start - HOLD,
                                 periods[-1].end)
    out = {}
    for lamp_id, datastream in states.items():
        spans = lit_spans(found.get(datastream, []), now)
        out[lamp_id] = [hours_in(spans, p) for p in periods]
    return out
