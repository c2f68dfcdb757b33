"""$filter (and $orderby expressions) on a small, hand-made town, on both backends.

Every expected answer below is derived by hand from the data set in ``town`` and the
SensorThings 1.1 rules (OGC 18-088 §9.3.3.5, built-in operators and functions), with the
implementation's documented choices where the specification leaves room:

* a result is typed: ``result gt 3`` looks at numeric results only, ``result gt '3'`` at
  string results only, ``result eq true`` at boolean results only;
* a comparison with a null value (resultTime, a missing JSON key) matches nothing;
* a phenomenonTime that is an interval is half-open ``[start, end)``; ``lt`` means
  "before" and ``gt`` "after" (compile.py ``_compare_spans`` / ``_interval``);
* a path through a to-many relation means "any of them";
* null sorts as the largest value in ``$orderby`` (after values ascending, first descending).

All tests of one backend share one app and one data set (module-scoped), since no test
here writes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from starlette.testclient import TestClient

from conftest import BACKENDS, Api, truncate_tables
from quartier.app import build_app
from quartier.settings import Settings

Ids = dict[str, int]

# -- the data set ------------------------------------------------------------------------
#
# Things                      properties                                         Location
#   T1 "Pegel Nord"           {"district": "Nord", "lamps": 12,                  L1 POINT(1 1)
#      "water level gauge"     "info": {"owner": "Stadt", "year": 2020}}
#   T2 "Lampe Süd"            {"district": "Süd", "lamps": 4,                    L2 POINT(5 5)
#      "Street Light"          "info": {"owner": "Land"}}
#   T3 "Bare"                 (none)                                             L3 LINESTRING(0 0, 3 4)
#      "  padded  "
#
# Datastreams: D1 "Level" (T1, unit cm), D2 "Status" (T2, unit 1), D3 "Empty" (T3, no obs)
#
# FeaturesOfInterest (square = POLYGON((0 0, 4 0, 4 4, 0 4, 0 0))):
#   F1 POINT(1 1) inside the square       F2 the square itself
#   F3 LINESTRING(-1 2, 6 2) crossing it   F4 POINT(4 2) on its edge
#   F5 POINT(10 10) far away
#
# Observations (day = 2026-01-01):
#   O1  D1 F1  result 1        pt day 00:00                 rt day 00:00:05   params {method radar, depth 2}
#   O2  D1 F2  result 2.5      pt day 01:00                 rt null
#   O3  D1 F1  result -2.5     pt day 00:00/day 02:00       rt 2026-01-02T00:00:00Z
#   O4  D1 F4  result 7        pt day 02:00/day 03:00       rt null
#   O5  D1 F1  result 10       pt 2026-02-28T12:34:56.250Z  rt null             params {method manual}
#   O6  D2 F3  "Hello World"   pt 2026-03-15T23:59:59Z      rt 2026-03-16T00:00:00Z
#   O7  D2 F3  "10"            pt 2025-12-31T23:00:00Z      rt null
#   O8  D2 F5  true            pt day 03:00                 rt null
#   O9  D2 F5  null            pt day 04:00                 rt null
#   O10 D2 F5  {"level": 5, "max": 10, "status": "ok", "nested": {"a": 1}}   pt day 05:00   rt null
#   O11 D2 F3  false           pt day 06:00                 rt null
#
# D1's observedArea is the convex hull of F1, F2, F4: the square. D2's is the hull of F3 and
# F5: the triangle (-1 2), (6 2), (10 10). D3 has none.

SQUARE = "POLYGON((0 0, 4 0, 4 4, 0 4, 0 0))"
DAY = "2026-01-01"
ALL_OBS = {f"O{i}" for i in range(1, 12)}
D1_OBS = {"O1", "O2", "O3", "O4", "O5"}
D2_OBS = ALL_OBS - D1_OBS


def _point(x: float, y: float) -> dict[str, Any]:
    return {"type": "Point", "coordinates": [x, y]}


def _location(name: str, geometry: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "description": f"location {name}",
            "encodingType": "application/geo+json", "location": geometry}


def _feature(name: str, geometry: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "description": f"feature {name}",
            "encodingType": "application/geo+json", "feature": geometry}


def _datastream(name: str, symbol: str, thing: int) -> dict[str, Any]:
    return {
        "name": name, "description": f"datastream {name}",
        "observationType": "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement",
        "unitOfMeasurement": {"name": name, "symbol": symbol, "definition": "https://example.org/u"},
        "Thing": {"@iot.id": thing},
        "Sensor": {"name": f"sensor {name}", "description": "s", "encodingType": "application/pdf",
                   "metadata": "https://example.org/s.pdf"},
        "ObservedProperty": {"name": f"property {name}", "definition": "https://example.org/p",
                             "description": "p"},
    }


THINGS = {
    "T1": ("Pegel Nord", "water level gauge",
           {"district": "Nord", "lamps": 12, "info": {"owner": "Stadt", "year": 2020}},
           ("L1", _point(1, 1))),
    "T2": ("Lampe Süd", "Street Light", {"district": "Süd", "lamps": 4, "info": {"owner": "Land"}},
           ("L2", _point(5, 5))),
    "T3": ("Bare", "  padded  ", None,
           ("L3", {"type": "LineString", "coordinates": [[0, 0], [3, 4]]})),
}
FEATURES = {
    "F1": _point(1, 1),
    "F2": {"type": "Polygon", "coordinates": [[[0, 0], [4, 0], [4, 4], [0, 4], [0, 0]]]},
    "F3": {"type": "LineString", "coordinates": [[-1, 2], [6, 2]]},
    "F4": _point(4, 2),
    "F5": _point(10, 10),
}
DATASTREAMS = {"D1": ("Level", "cm", "T1"), "D2": ("Status", "1", "T2"), "D3": ("Empty", "m", "T3")}
OBSERVATIONS: dict[str, tuple[str, str, Any, str, str | None, dict[str, Any] | None]] = {
    "O1": ("D1", "F1", 1, f"{DAY}T00:00:00Z", f"{DAY}T00:00:05Z", {"method": "radar", "depth": 2}),
    "O2": ("D1", "F2", 2.5, f"{DAY}T01:00:00Z", None, None),
    "O3": ("D1", "F1", -2.5, f"{DAY}T00:00:00Z/{DAY}T02:00:00Z", "2026-01-02T00:00:00Z", None),
    "O4": ("D1", "F4", 7, f"{DAY}T02:00:00Z/{DAY}T03:00:00Z", None, None),
    "O5": ("D1", "F1", 10, "2026-02-28T12:34:56.250Z", None, {"method": "manual"}),
    "O6": ("D2", "F3", "Hello World", "2026-03-15T23:59:59Z", "2026-03-16T00:00:00Z", None),
    "O7": ("D2", "F3", "10", "2025-12-31T23:00:00Z", None, None),
    "O8": ("D2", "F5", True, f"{DAY}T03:00:00Z", None, None),
    "O9": ("D2", "F5", None, f"{DAY}T04:00:00Z", None, None),
    "O10": ("D2", "F5", {"level": 5, "max": 10, "status": "ok", "nested": {"a": 1}}, f"{DAY}T05:00:00Z",
            None, None),
    "O11": ("D2", "F3", False, f"{DAY}T06:00:00Z", None, None),
}


def build_town(api: Api) -> Ids:
    ids: Ids = {}
    for label, (name, description, properties, (loc_label, geometry)) in THINGS.items():
        body: dict[str, Any] = {"name": name, "description": description,
                                "Locations": [_location(loc_label, geometry)]}
        if properties is not None:
            body["properties"] = properties
        ids[label] = api.create("Things", body)
        ids[loc_label] = api.ok(f"Things({ids[label]})/Locations")["value"][0]["@iot.id"]
    for label, geometry in FEATURES.items():
        ids[label] = api.create("FeaturesOfInterest", _feature(label, geometry))
    for label, (name, symbol, thing) in DATASTREAMS.items():
        ids[label] = api.create("Datastreams", _datastream(name, symbol, ids[thing]))
    for label, (ds, foi, result, phenomenon, result_time, parameters) in OBSERVATIONS.items():
        body = {"result": result, "phenomenonTime": phenomenon, "resultTime": result_time,
                "Datastream": {"@iot.id": ids[ds]}, "FeatureOfInterest": {"@iot.id": ids[foi]}}
        if parameters is not None:
            body["parameters"] = parameters
        ids[label] = api.create("Observations", body)
    return ids


@pytest.fixture(scope="module", params=BACKENDS)
def town_settings(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    data_dir = tmp_path_factory.mktemp("filter")
    if request.param == "postgresql":
        url = request.getfixturevalue("pg_database")
        truncate_tables(url)
        return Settings.validated({"database": url, "data_dir": data_dir})
    return Settings.validated({"data_dir": data_dir})


@pytest.fixture(scope="module")
def town_api(town_settings: Settings) -> Iterator[Api]:
    with TestClient(build_app(town_settings), raise_server_exceptions=False) as client:
        yield Api(client)


@pytest.fixture(scope="module")
def town(town_api: Api) -> Ids:
    return build_town(town_api)


@pytest.fixture
def api(town_api: Api, town: Ids) -> Api:
    """The shared app of this backend, with the town in it (these tests only read)."""
    return town_api


# -- helpers -----------------------------------------------------------------------------

_LABEL = re.compile(r"<([A-Z]\d+)>")


def fill_ids(text: str, ids: Ids) -> str:
    """``<T1>`` in a filter becomes the id the server gave T1."""
    return _LABEL.sub(lambda m: str(ids[m.group(1)]), text)


def labels(ids: Ids, prefix: str, values: list[dict[str, Any]]) -> list[str]:
    by_id = {v: k for k, v in ids.items() if k[0] == prefix}
    return [by_id[v["@iot.id"]] for v in values]


def found(api: Api, ids: Ids, path: str, expression: str, **params: Any) -> set[str]:
    """The labels of the entities ``path?$filter=expression`` returns (one page)."""
    path = fill_ids(path, ids)
    collection = path.rsplit("/", 1)[-1]
    prefix = {"Things": "T", "Locations": "L", "Datastreams": "D", "Observations": "O",
              "FeaturesOfInterest": "F"}[collection]
    body = api.ok(path, **{"$filter": fill_ids(expression, ids), "$top": 1000, **params})
    assert "@iot.nextLink" not in body
    result = labels(ids, prefix, body["value"])
    assert len(result) == len(set(result)), f"duplicates in {result}"
    return set(result)


def check(api: Api, ids: Ids, path: str, expression: str, expected: set[str]) -> None:
    assert found(api, ids, path, expression) == expected, f"{path}?$filter={expression}"


def assert_filter_error(response: Any, *mentions: str, position: int | None = None) -> str:
    assert response.status_code == 400, f"{response.status_code}: {response.text[:500]}"
    assert response.headers.get("content-type", "").startswith("application/json")
    body = response.json()
    assert isinstance(body, dict) and isinstance(body.get("code"), str) and body["code"], body
    message = body.get("message")
    assert isinstance(message, str) and message.strip(), body
    for word in mentions:
        assert word.lower() in message.lower(), f"{word!r} not in {message!r}"
    if position is not None:
        assert f"at position {position}" in message, message
    return message


def obs(*numbers: int) -> set[str]:
    return {f"O{n}" for n in numbers}
