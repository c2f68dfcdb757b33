"""The demo town's definition: read from its TOML file, checked, and laid out.

``load_town`` reads the file (the built-in ``town.toml`` unless another is named) into a
:class:`Town`: its map (places, streets as a graph, districts, waters) and the raw
sections the device kinds of :mod:`quartier.demo.devices` read. Every mistake is reported
as a :class:`TownError` naming the file and the key, e.g. ``fleet.vehicles[3].route``.

Geometry is done in a local plane: metres east and north of the town's first place, which
is exact enough for a town a few kilometres across.
"""

from __future__ import annotations

import heapq
import math
import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from itertools import pairwise
from pathlib import Path
from typing import Any

from shapely.geometry import Point, Polygon

from quartier.errors import QuartierError

_METRES_PER_DEGREE = 111_320.0
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(d|h|min|s)")
_UNITS = {"d": 86_400.0, "h": 3_600.0, "min": 60.0, "s": 1.0}
_CLOCK = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")

XY = tuple[float, float]
LonLat = tuple[float, float]


class TownError(QuartierError):
    """The town file says something the simulator cannot use."""

    status = 400
    code = "bad_town"


class Section:
    """A table of the town file that knows where it is, for messages."""

    def __init__(self, data: Any, where: str, source: str) -> None:
        if not isinstance(data, dict):
            raise TownError(f"{source}: {where or 'the file'} must be a table")
        self.data = data
        self.where = where
        self.source = source

    def _name(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def fail(self, key: str, message: str) -> TownError:
        return TownError(f"{self.source}: {self._name(key)}: {message}")

    def has(self, key: str) -> bool:
        return key in self.data

    def raw(self, key: str, default: Any = ...) -> Any:
        if key not in self.data:
            if default is ...:
                raise TownError(f"{self.source}: {self._name(key)} is missing")
            return default
        return self.data[key]

    def text(self, key: str, default: Any = ...) -> str:
        value = self.raw(key, default)
        if not isinstance(value, str) or not value:
            raise self.fail(key, f"must be a non-empty string, not {value!r}")
        return value

    def number(self, key: str, default: Any = ..., low: float | None = None,
               high: float | None = None) -> float:
        value = self.raw(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(key, f"must be a number, not {value!r}")
        if (low is not None and value < low) or (high is not None and value > high):
            raise self.fail(key, f"must lie between {low} and {high}, not {value}")
        return float(value)

    def seconds(self, key: str, default: Any = ..., signed: bool = False) -> float:
        value = self.raw(key, default)
        try:
            return duration(value, signed)
        except ValueError as exc:
            raise self.fail(key, str(exc)) from None

    def clock(self, key: str) -> int:
        """A local clock time "HH:MM" as minutes after midnight."""
        value = self.text(key)
        match = _CLOCK.fullmatch(value)
        if match is None:
            raise self.fail(key, f'must be a clock time like "22:30", not {value!r}')
        return int(match[1]) * 60 + int(match[2])

    def table(self, key: str) -> Section:
        return Section(self.raw(key), self._name(key), self.source)

    def tables(self, key: str, default: Any = ...) -> list[Section]:
        value = self.raw(key, default)
        if not isinstance(value, list):
            raise self.fail(key, "must be a list of tables ([[...]] sections)")
        return [Section(item, f"{self._name(key)}[{i}]", self.source) for i, item in enumerate(value)]

    def strings(self, key: str) -> list[str]:
        value = self.raw(key)
        if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
            raise self.fail(key, "must be a non-empty list of strings")
        return value


def duration(value: Any, signed: bool = False) -> float:
    """Seconds in a duration like "1h30min", "-40h" or "+2d"."""
    if not isinstance(value, str):
        raise ValueError(f'must be a duration like "15min" or "1h30min", not {value!r}')
    text, sign = value.strip(), 1.0
    if signed and text[:1] in "+-":
        sign, text = (-1.0 if text[0] == "-" else 1.0), text[1:]
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f'must be a duration like "15min", "6h", "1h30min" or "2d"'
                         f'{" with a sign (-40h)" if signed else ""}, not {value!r}')
    return sign * sum(float(n) * _UNITS[u] for n, u in parts)


@dataclass
class Street:
    name: str
    places: list[str]


@dataclass
class Town:
    """The town: its map and the sections that define its devices."""

    name: str
    description: str
    timezone: str
    seed: int
    dev_eui_prefix: str
    source: str
    root: Section
    origin: LonLat
    places: dict[str, XY] = field(default_factory=dict)
    streets: list[Street] = field(default_factory=list)
    districts: list[tuple[str, Polygon]] = field(default_factory=list)
    waters: list[tuple[str, str, list[XY]]] = field(default_factory=list)
    _graph: dict[str, dict[str, float]] = field(default_factory=dict)

    # -- coordinates ------------------------------------------------------------------

    def to_xy(self, lon: float, lat: float) -> XY:
        lon0, lat0 = self.origin
        return ((lon - lon0) * _METRES_PER_DEGREE * math.cos(math.radians(lat0)),
                (lat - lat0) * _METRES_PER_DEGREE)

    def to_lonlat(self, x: float, y: float) -> LonLat:
        lon0, lat0 = self.origin
        return (lon0 + x / (_METRES_PER_DEGREE * math.cos(math.radians(lat0))),
                lat0 + y / _METRES_PER_DEGREE)

    def position(self, section: Section, key: str = "at") -> XY:
        """A position given as [lon, lat] or as the name of a place."""
        value = section.raw(key)
        if isinstance(value, str):
            if value not in self.places:
                raise section.fail(key, f"no place named {value!r} in [places]")
            return self.places[value]
        return self.to_xy(*_lonlat(section, key))

    def district(self, xy: XY) -> str | None:
        point = Point(xy)
        return next((name for name, area in self.districts if area.covers(point)), None)

    # -- streets ----------------------------------------------------------------------

    def street_path(self, name: str, section: Section, key: str) -> list[XY]:
        street = next((s for s in self.streets if s.name == name), None)
        if street is None:
            raise section.fail(key, f"no street named {name!r} (the streets: "
                                    f"{', '.join(s.name for s in self.streets)})")
        return [self.places[p] for p in street.places]

    def route(self, through: list[str], section: Section, key: str) -> list[XY]:
        """The shortest way on the streets through the named places, in order."""
        for place in through:
            if place not in self._graph:
                raise section.fail(key, f"{place!r} is no place on a street")
        path = [through[0]]
        for a, b in pairwise(through):
            leg = self._shortest(a, b)
            if leg is None:
                raise section.fail(key, f"no way on the streets leads from {a!r} to {b!r}")
            path += leg[1:]
        return [self.places[p] for p in path]

    def _shortest(self, start: str, goal: str) -> list[str] | None:
        best = {start: 0.0}
        before: dict[str, str] = {}
        queue = [(0.0, start)]
        while queue:
            cost, here = heapq.heappop(queue)
            if here == goal:
                path = [goal]
                while path[-1] != start:
                    path.append(before[path[-1]])
                return path[::-1]
            if cost > best[here]:
                continue
            for there, length in self._graph[here].items():
                if cost + length < best.get(there, math.inf):
                    best[there] = cost + length
                    before[there] = here
                    heapq.heappush(queue, (cost + length, there))
        return None

    def street_segments(self) -> list[tuple[XY, XY]]:
        return [(self.places[a], self.places[b]) for s in self.streets
                for a, b in pairwise(s.places)]


def _lonlat(section: Section, key: str) -> LonLat:
    value = section.raw(key)
    if (not isinstance(value, list) or len(value) != 2
            or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)):
        raise section.fail(key, f"must be [longitude, latitude] or a place's name, not {value!r}")
    lon, lat = float(value[0]), float(value[1])
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise section.fail(key, f"[{lon}, {lat}] is no [longitude, latitude]")
    return lon, lat


def _coordinates(section: Section, key: str, town: Town) -> list[XY]:
    value = section.raw(key)
    if not isinstance(value, list) or len(value) < 2:
        raise section.fail(key, "must be a list of at least two [longitude, latitude] pairs")
    out = []
    for i, pair in enumerate(value):
        out.append(town.to_xy(*_lonlat(Section({"p": pair}, f"{section._name(key)}[{i}]",
                                               section.source), "p")))
    return out


def default_town_file() -> Path:
    return Path(str(resources.files("quartier.demo").joinpath("town.toml")))


def load_town(path: str | Path | None = None) -> Town:
    """Read and check a town file; the built-in Lindbrück when no path is given."""
    file = Path(path) if path is not None else default_town_file()
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise TownError(f"cannot read the town file {file}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise TownError(f"{file.name}: not valid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise TownError(f"{file.name}: not UTF-8 text") from None
    return _town(Section(data, "", file.name))


def _town(root: Section) -> Town:
    head = root.table("town")
    prefix = head.text("dev_eui_prefix")
    if not re.fullmatch(r"[0-9A-Fa-f]{8,10}", prefix):
        raise head.fail("dev_eui_prefix", "must be 8 to 10 hexadecimal digits")
    seed = head.raw("seed", 1)
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise head.fail("seed", f"must be a whole number, not {seed!r}")
    places = root.table("places")
    if not places.data:
        raise places.fail("", "the town needs at least one place")
    first = next(iter(places.data))
    town = Town(name=head.text("name"), description=head.text("description", ""),
                timezone=head.text("timezone", "Europe/Berlin"), seed=seed,
                dev_eui_prefix=prefix.upper()[:8], source=root.source, root=root,
                origin=_lonlat(places, first))
    _check_timezone(head, town.timezone)
    for name in places.data:
        town.places[name] = town.to_xy(*_lonlat(places, name))
    for item in root.tables("streets"):
        street = Street(item.text("name"), item.strings("through"))
        for place in street.places:
            if place not in town.places:
                raise item.fail("through", f"no place named {place!r} in [places]")
        if len(street.places) < 2:
            raise item.fail("through", "a street runs through at least two places")
        town.streets.append(street)
        for a, b in pairwise(street.places):
            length = math.dist(town.places[a], town.places[b])
            town._graph.setdefault(a, {})[b] = length
            town._graph.setdefault(b, {})[a] = length
    for item in root.tables("districts", []):
        area = Polygon(_coordinates(item, "area", town))
        if not area.is_valid:
            raise item.fail("area", "is no valid polygon (its edges cross)")
        town.districts.append((item.text("name"), area))
    for item in root.tables("waters", []):
        town.waters.append((item.text("name"), item.text("kind", "river"),
                            _coordinates(item, "course", town)))
    return town


def _check_timezone(section: Section, name: str) -> None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise section.fail("timezone", f"{name!r} is no time zone name like Europe/Berlin") from None


def along(path: list[XY], spacing: float, offset: float = 0.0) -> list[XY]:
    """Points every ``spacing`` metres along a polyline, starting ``offset`` in."""
    points: list[XY] = []
    walked, next_at = 0.0, offset
    for (x1, y1), (x2, y2) in pairwise(path):
        length = math.hypot(x2 - x1, y2 - y1)
        while next_at <= walked + length and length > 0:
            f = (next_at - walked) / length
            points.append((x1 + f * (x2 - x1), y1 + f * (y2 - y1)))
            next_at += spacing
        walked += length
    return points
