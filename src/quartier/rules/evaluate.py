"""What a condition makes of each new value: the level a subject is at, step by step.

Pure functions on a small state, so that the engine can keep it in the database and a
restart goes on exactly where it stopped::

    {"level": 2, "pending": {"since": 1764586800.0, "level": 3}, "t": 1764586800.0}

``level`` 0 is "no problem"; 1.. are the rule's levels. A level is reached when the value
holds it for the condition's ``for`` (``pending`` remembers since when); it clears only
once the value is back past the level by the hysteresis. The ``recent`` values a rate
needs (and the trend the estimate uses) are passed in, not stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from astral import Observer
from astral.sun import elevation
from shapely.geometry import Point

from quartier.rules.definition import Condition
from quartier.usecases.lighting.status import lit

Recent = list[tuple[float, float]]  # (time, value), oldest first


@dataclass(frozen=True)
class Reading:
    """Where a condition is now: the level the value is at, and the level it keeps with
    the hysteresis taken into account (``held >= raw``)."""

    raw: int
    held: int


def number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def reading(condition: Condition, limits: Sequence[float], value: Any, recent: Recent,
            t: float, level: int) -> Reading | None:
    """The condition's verdict on one value; None when the value says nothing (a string
    where a number is wanted)."""
    kind = condition.type
    if kind == "threshold":
        x = number(value)
        if x is None or (condition.floor is not None and x <= condition.floor):
            return None
        h = condition.hysteresis
        if condition.direction == "above":
            return Reading(sum(x >= lim for lim in limits), sum(x >= lim - h for lim in limits))
        return Reading(sum(x <= lim for lim in limits), sum(x <= lim + h for lim in limits))
    if kind == "rate":
        x = number(value)
        if x is None:
            return None
        window = [v for s, v in recent if s >= t - condition.within] + [x]
        change = x - min(window) if condition.direction == "rise" else max(window) - x
        hit = int(change >= condition.amount)
        return Reading(hit, hit)
    if kind == "geofence":
        if not isinstance(value, list | tuple) or len(value) < 2 or condition.area is None:
            return None
        inside = bool(condition.area.covers(Point(float(value[0]), float(value[1]))))
        hit = int(inside if condition.direction == "enter" else not inside)
        return Reading(hit, hit)
    if kind == "daylight":
        return _daylight(condition, value, t)
    if kind in ("all", "any"):
        verdicts = []
        for part in condition.parts:
            inner = reading(part, part.limits, value, recent, t, level)
            if inner is None:
                return None
            verdicts.append(inner.raw >= 1 or (level >= 1 and inner.held >= 1))
        hit = int(all(verdicts) if kind == "all" else any(verdicts))
        return Reading(hit, hit)
    return None


def should_be_lit(condition: Condition, t: float) -> bool:
    """Whether a lamp at the condition's place should be lit at ``t``: the sun is lower
    than the condition's switching elevation."""
    assert condition.place is not None
    latitude, longitude = condition.place
    sun = elevation(Observer(latitude, longitude), datetime.fromtimestamp(t, UTC))
    return bool(sun < condition.elevation)


def _daylight(condition: Condition, value: Any, t: float) -> Reading | None:
    state = lit(value)
    if state is None:
        return None
    hit = int(state != should_be_lit(condition, t))
    return Reading(hit, hit)


def advance(state: dict[str, Any], verdict: Reading, t: float, hold: float) -> dict[str, Any]:
    """The state after one value (a new dict; the old one is left alone)."""
    level = int(state.get("level", 0))
    pending = state.get("pending")
    if verdict.raw > level:
        if hold <= 0:
            level, pending = verdict.raw, None
        else:
            if pending is None:
                pending = {"since": t, "level": verdict.raw}
            else:
                pending = {"since": pending["since"], "level": min(pending["level"], verdict.raw)}
            if t - pending["since"] >= hold:
                level, pending = pending["level"], None
    else:
        pending = None
        if verdict.raw < level:
            level = min(level, verdict.held)
    return {"level": level, "pending": pending, "t": t}


ESTIMATE_HORIZON = 7 * 86400.0  # seconds: a next level further off than this is not estimated


def estimate_next(limits: Sequence[float], level: int, recent: Recent, direction: str
                  ) -> dict[str, Any] | None:
    """When the next level would be reached if the recent trend went on (a straight line
    through the last values); None when it is not heading there. An estimate, labelled so."""
    if level >= len(limits) or len(recent) < 3:
        return None
    points = recent[-6:]
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_v = sum(v for _, v in points) / n
    spread = sum((t - mean_t) ** 2 for t, _ in points)
    if spread == 0:
        return None
    slope = sum((t - mean_t) * (v - mean_v) for t, v in points) / spread  # per second
    last_t, last_v = points[-1]
    gap = limits[level] - last_v
    if direction == "below":
        slope, gap = -slope, -gap
    if slope <= 0 or gap <= 0 or gap / slope > ESTIMATE_HORIZON:
        return None  # not heading there, or not within any time worth saying
    return {"level": level + 1, "at": last_t + gap / slope, "ratePerHour": slope * 3600,
            "kind": "estimate"}
