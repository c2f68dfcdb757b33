"""Time for the simulation: reporting schedules, local clock, the sun, and silences.

Times are seconds since the Unix epoch (UTC) throughout the simulator. Each device reports
on its own grid (``every`` seconds, shifted by a phase taken from its key), so the same
device gives readings at the same instants whichever windows the simulation asks for.
"""

from __future__ import annotations

import math
import random
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from astral import Observer
from astral.sun import elevation

DAY = 86_400.0


def phase(key: str, every: float) -> float:
    """A stable offset within ``every`` seconds for the device ``key``."""
    return float(zlib.crc32(key.encode()) % max(1, int(every)))


def ticks(start: float, end: float, every: float, offset: float = 0.0) -> Iterator[float]:
    """The instants ``k * every + offset`` in [start, end)."""
    t = math.ceil((start - offset) / every) * every + offset
    while t < end:
        yield t
        t += every


def opens_window(t: float, step: float, every: float, offset: float) -> bool:
    """Whether ``t``, a tick of a clock that ticks every ``step`` seconds, is its first
    tick in a window of ``every`` seconds (windows start at ``offset``): how a device that
    wakes every ``step`` seconds reports only every ``every`` seconds."""
    window = math.floor((t - offset) / every + 1e-9)
    return window != math.floor((t - step - offset) / every + 1e-9)


def iso(t: float) -> str:
    """An instant as ISO 8601 with milliseconds, UTC."""
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class LocalClock:
    """Local time of day and weekday in the town's time zone."""

    def __init__(self, timezone: str) -> None:
        self.zone = ZoneInfo(timezone)

    def local(self, t: float) -> datetime:
        return datetime.fromtimestamp(t, self.zone)

    def minute_of_day(self, t: float) -> float:
        local = self.local(t)
        return local.hour * 60 + local.minute + local.second / 60

    def midnight(self, t: float) -> float:
        """The start of the local day that holds ``t``."""
        local = self.local(t)
        return local.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()


class Sky:
    """The sun over the town: whether it is dark enough for street lights."""

    def __init__(self, lon: float, lat: float, switch_elevation: float) -> None:
        self.observer = Observer(latitude=lat, longitude=lon)
        self.switch_elevation = switch_elevation
        self._dark = lru_cache(maxsize=4096)(self._dark_at_minute)

    def _dark_at_minute(self, minute: int) -> bool:
        when = datetime.fromtimestamp(minute * 60.0, UTC)
        return bool(elevation(self.observer, when) < self.switch_elevation)

    def dark(self, t: float) -> bool:
        return bool(self._dark(int(t // 60)))


class Silence:
    """Now and then a device goes quiet: on any day with ``chance``, for a while."""

    def __init__(self, seed: int, chance: float, shortest: float, longest: float) -> None:
        self.seed = seed
        self.chance = chance
        self.shortest = shortest
        self.longest = longest
        self._spell = lru_cache(maxsize=65_536)(self._spell_of_day)

    def _spell_of_day(self, key: str, day: int) -> tuple[float, float] | None:
        rng = random.Random(f"{self.seed}:{key}:silence:{day}")
        if rng.random() >= self.chance:
            return None
        start = day * DAY + rng.uniform(0, DAY)
        return start, start + rng.uniform(self.shortest, self.longest)

    def silent(self, key: str, t: float) -> bool:
        day = int(t // DAY)
        for d in (day - 1, day):
            spell = self._spell(key, d)
            if spell is not None and spell[0] <= t < spell[1]:
                return True
        return False


def bell(t: float, middle: float, rise: float, fall: float) -> float:
    """A skewed bell, 1 at ``middle``: a flood wave rises faster than it falls."""
    width = rise if t < middle else fall
    return math.exp(-0.5 * ((t - middle) / width) ** 2)


def poisson(rng: random.Random, mean: float) -> int:
    """A count with this mean (normal approximation above 30)."""
    if mean <= 0:
        return 0
    if mean > 30:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, p = math.exp(-mean), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k
