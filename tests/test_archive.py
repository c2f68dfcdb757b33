"""The Observation archive on PostgreSQL: what the generic suite on the "archived" backend
cannot show. Rows really move into ``observation_blocks`` (and back), answers stay the same,
blocks are small, writes to archived Observations work while the archive job runs, and the
job and ``quartier archive`` do their part. SQLite has no archive.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx2
import pytest

from conftest import (
    Api,
    TestClient,
    backend_settings,
    create_tenant,
    datastream_body,
    full_thing_body,
    make_app,
    observed_property_body,
    sensor_body,
)
from quartier.app import build_app
from quartier.model.entities import ENTITY_TYPES
from quartier.model.parse import parse_create
from quartier.settings import Settings
from quartier.store import open_store

FAR = datetime(2100, 1, 1, tzinfo=UTC)
DAY1 = datetime(2025, 3, 1, tzinfo=UTC)


# -- helpers ---------------------------------------------------------------------------


@pytest.fixture
def pg_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """A fresh PostgreSQL store (skips when the server is absent), archive job off."""
    return backend_settings(request, "postgresql", tmp_path)


@pytest.fixture
def pg_client(pg_settings: Settings) -> Iterator[TestClient]:
    with TestClient(make_app(pg_settings), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def pg_api(pg_client: TestClient) -> Api:
    return Api(pg_client)


def sql(url: str, query: str, *args: Any) -> list[asyncpg.Record]:
    async def run() -> list[asyncpg.Record]:
        conn = await asyncpg.connect(url)
        try:
            return list(await conn.fetch(query, *args))
        finally:
            await conn.close()

    return asyncio.run(run())


def value(url: str, query: str, *args: Any) -> Any:
    return sql(url, query, *args)[0][0]


def archive(settings: Settings, older_than: datetime = FAR, keep_newest_day: bool = True) -> int:
    """``Store.archive`` on a store of its own, as the job or the CLI would run it."""

    async def run() -> int:
        store = open_store(settings)
        await store.open()
        try:
            return await store.archive(older_than, keep_newest_day=keep_newest_day)
        finally:
            await store.close()

    return asyncio.run(run())


def iso(t: datetime) -> str:
    return f"{t:%Y-%m-%dT%H:%M:%SZ}"


def id_of(link: str) -> int:
    found = re.search(r"\((\d+)\)$", link)
    assert found, link
    return int(found.group(1))


def feature_body(name: str, x: float) -> dict[str, Any]:
    return {
        "name": name, "description": f"spot {name}", "encodingType": "application/geo+json",
        "feature": {"type": "Point", "coordinates": [x, 48.5]},
    }


def thing_with_datastreams(api: Api, count: int = 2) -> list[int]:
    body = full_thing_body()
    for n in range(1, count):
        body["Datastreams"].append(datastream_body(
            f"Stream {n}", Sensor=sensor_body(f"Sensor {n}"),
            ObservedProperty=observed_property_body(f"Property {n}"),
        ))
    thing = api.create("Things", body)
    ids = [d["@iot.id"] for d in api.ok(f"Things({thing})/Datastreams", **{"$orderby": "id"})["value"]]
    assert len(ids) == count
    return ids


def create_observations(
    api: Api, datastream: int, components: list[str], rows: list[list[Any]]
) -> list[int]:
    """POST CreateObservations for one Datastream; the new ids in row order."""
    ids: list[int] = []
    for start in range(0, len(rows), 3000):
        chunk = rows[start:start + 3000]
        response = api.post("CreateObservations", [
            {"Datastream": {"@iot.id": datastream}, "components": components, "dataArray": chunk}
        ])
        assert response.status_code == 201, response.text
        links = response.json()
        assert len(links) == len(chunk)
        assert not any(link == "error" or "error" in link.lower() for link in links), links
        ids += [id_of(link) for link in links]
    return ids


class World:
    """Two Datastreams of one Thing, two FeaturesOfInterest, 3 days of hourly Observations
    each; every known Observation as (id, Datastream, phenomenonTime start, feature)."""

    def __init__(self, api: Api, days: int = 3, start: datetime = DAY1) -> None:
        self.ds = thing_with_datastreams(api, 2)
        self.features = [api.create("FeaturesOfInterest", feature_body(n, x))
                         for n, x in (("Nord", 9.1), ("Süd", 9.3))]
        self.observations: list[tuple[int, int, datetime, int]] = []
        self.days = days
        self.start = start
        hours = [start + timedelta(hours=h) for h in range(24 * days)]
        # The first Datastream: numbers, a resultTime on even hours, features alternating.
        rows1 = [[iso(t), (h * 7) % 25, iso(t) if h % 2 == 0 else None, self.features[h % 2]]
                 for h, t in enumerate(hours)]
        ids1 = create_observations(
            api, self.ds[0], ["phenomenonTime", "result", "resultTime", "FeatureOfInterest/id"], rows1
        )
        self.observations += [(i, self.ds[0], t, self.features[h % 2])
                              for h, (i, t) in enumerate(zip(ids1, hours, strict=True))]
        # The second: every kind of result, intervals, validTime, quality and parameters,
        # all at the second feature.
        rows2 = []
        for h, t in enumerate(hours):
            result: Any = [h, "high", {"level": h, "ok": True}, h + 0.25, h % 3 == 0][h % 5]
            phenomenon = iso(t) if h % 6 != 5 else f"{iso(t)}/{iso(t + timedelta(minutes=30))}"
            valid = f"{iso(t)}/{iso(t + timedelta(hours=1))}" if h % 4 == 1 else None
            rows2.append([phenomenon, result, iso(t + timedelta(minutes=1)),
                          ["checked"] if h % 3 == 0 else None, valid,
                          {"n": h} if h % 2 else None, self.features[1]])
        ids2 = create_observations(
            api, self.ds[1],
            ["phenomenonTime", "result", "resultTime", "resultQuality", "validTime", "parameters",
             "FeatureOfInterest/id"],
            rows2,
        )
        self.observations += [(i, self.ds[1], t, self.features[1])
                              for i, t in zip(ids2, hours, strict=True)]

    def add(self, api: Api, datastream: int, at: datetime, result: Any) -> int:
        obs = api.create("Observations", {
            "phenomenonTime": iso(at), "result": result, "Datastream": {"@iot.id": datastream},
            "FeatureOfInterest": {"@iot.id": self.features[0]},
        })
        self.observations.append((obs, datastream, at, self.features[0]))
        return obs

    def ids_of(self, datastream: int) -> list[int]:
        return [o[0] for o in self.observations if o[1] == datastream]


def counts(url: str) -> tuple[int, int, int]:
    """(rows in observations, rows of observation_blocks, Observations in blocks)."""
    row = sql(url, "SELECT (SELECT count(*) FROM observations), (SELECT count(*) FROM "
                   "observation_blocks), (SELECT coalesce(sum(cardinality(ids)), 0) FROM "
                   "observation_blocks)")[0]
    return int(row[0]), int(row[1]), int(row[2])


def api_count(api: Api, path: str) -> int:
    return int(api.ok(path, **{"$count": "true", "$top": "0"})["@iot.count"])


def assert_error(response: Any, status: int) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert isinstance(body.get("code"), str) and body["code"], body
    assert isinstance(body.get("message"), str) and body["message"].strip(), body


# -- 1. rows move, answers stay ----------------------------------------------------------


def _queries(world: World) -> list[tuple[str, dict[str, Any]]]:
    ds1, ds2 = world.ds
    day2 = world.start + timedelta(days=1)
    some = [world.ids_of(ds1)[5], world.ids_of(ds2)[30], world.ids_of(ds2)[-1]]
    return [
        ("Observations", {"$orderby": "id", "$top": "500"}),
        ("Observations", {"$top": "20", "$skip": "30", "$count": "true"}),
        (f"Datastreams({ds1})/Observations", {
            "$filter": f"phenomenonTime ge {iso(day2)} and phenomenonTime lt "
                       f"{iso(day2 + timedelta(days=1))}"}),
        (f"Datastreams({ds2})/Observations", {
            "$filter": f"phenomenonTime ge {iso(day2)} and phenomenonTime lt "
                       f"{iso(day2 + timedelta(days=1))}", "$orderby": "phenomenonTime desc"}),
        ("Datastreams", {"$expand": "Observations($top=3;$orderby=phenomenonTime desc)"}),
        ("Datastreams", {"$expand": "Observations($top=4;$orderby=phenomenonTime asc;"
                                    "$filter=result gt 3)"}),
        *((f"Observations({i})", {}) for i in some),
        (f"Observations({some[1]})", {"$expand": "Datastream,FeatureOfInterest"}),
        ("Observations", {"$count": "true", "$top": "0"}),
        (f"Datastreams({ds1})", {}),
        (f"Datastreams({ds2})", {}),
        ("Observations", {"$filter": "result gt 10", "$top": "200"}),
        (f"Datastreams({ds2})/Observations", {"$filter": "result eq 'high'"}),
        (f"Datastreams({ds2})/Observations", {"$filter": "resultTime gt "
                                             f"{iso(day2 + timedelta(hours=5))}", "$top": "7"}),
        (f"FeaturesOfInterest({world.features[0]})/Observations", {"$top": "5"}),
        (f"FeaturesOfInterest({world.features[1]})/Observations", {"$count": "true", "$top": "9",
                                                                   "$orderby": "result desc"}),
        ("FeaturesOfInterest", {"$expand": "Observations($top=2)"}),
        (f"Datastreams({ds1})/Observations", {"$resultFormat": "dataArray", "$top": "50"}),
        (f"Datastreams({ds2})/Observations", {"$orderby": "phenomenonTime desc", "$top": "30",
                                             "$skip": "10"}),
        (f"Observations({some[0]})/FeatureOfInterest", {}),
        # Filters that bound phenomenonTime or id (and so skip blocks), at block edges.
        *(("Observations", {"$filter": f, "$orderby": "id", "$top": "500"}) for f in (
            "phenomenonTime le 2025-03-02T00:00:00Z",
            "phenomenonTime lt 2025-03-02T00:00:00Z",
            "phenomenonTime ge 2025-03-01T23:00:00Z and phenomenonTime le 2025-03-02T00:00:00Z",
            "phenomenonTime gt 2025-03-01T23:15:00Z and phenomenonTime lt 2025-03-02T01:00:00Z",
            "phenomenonTime eq 2025-03-01T23:00:00Z",
            "phenomenonTime eq 2025-03-01T23:00:00Z/2025-03-01T23:30:00Z",
            "2025-03-02T00:00:00Z gt phenomenonTime and result ge 0",
            "phenomenonTime ge 2025-03-01T05:10:00Z/2025-03-01T05:20:00Z",
            f"id eq {some[1]}",
            f"{some[0]} eq id",
            f"id eq {some[1]} and phenomenonTime ge 2025-03-01T00:00:00Z",
            f"id gt {some[0]} and id lt {some[1]}",
            "phenomenonTime ge 2030-01-01T00:00:00Z",
        )),
        (f"Observations({some[2]})/result", {}),
    ]


def _answers(api: Api, world: World) -> list[tuple[str, int, bytes]]:
    out = []
    for path, params in _queries(world):
        response = api.get(path, **params)
        assert response.status_code == 200, (path, params, response.text)
        out.append((f"{path}?{params}", response.status_code, response.content))
    return out


def _compare(before: list[tuple[str, int, bytes]], after: list[tuple[str, int, bytes]]) -> None:
    for (query, status, content), (_, status_after, content_after) in zip(before, after, strict=True):
        assert (status_after, content_after) == (status, content), query


def test_archive_moves_rows_and_answers_stay_the_same(pg_settings: Settings, pg_api: Api) -> None:
    url = pg_settings.database
    world = World(pg_api)
    total = len(world.observations)
    assert total == 2 * 72
    before = _answers(pg_api, world)
    assert counts(url) == (total, 0, 0)

    moved = archive(pg_settings, FAR, keep_newest_day=True)
    assert moved == 2 * 48
    # Only the newest UTC day of each Datastream is still rows ...
    kept = sql(url, "SELECT datastream_id, date_trunc('day', phenomenon_time_start, 'UTC') AS day,"
                    " count(*) FROM observations GROUP BY 1, 2 ORDER BY 1, 2")
    newest = datetime(2025, 3, 3)
    assert [(r[0], r[1].replace(tzinfo=None), r[2]) for r in kept] == [
        (world.ds[0], newest, 24), (world.ds[1], newest, 24)
    ]
    # ... and the rest is one block per Datastream and day.
    blocks = sql(url, "SELECT datastream_id, first_time, cardinality(ids) FROM observation_blocks "
                      "ORDER BY datastream_id, first_time")
    assert [(b[0], b[1], b[2]) for b in blocks] == [
        (ds, DAY1 + timedelta(days=d), 24) for ds in world.ds for d in (0, 1)
    ]
    assert counts(url) == (48, 4, 96)
    _compare(before, _answers(pg_api, world))

    # Nothing more to move while keeping the newest day; without it, everything goes.
    assert archive(pg_settings, FAR, keep_newest_day=True) == 0
    assert archive(pg_settings, FAR, keep_newest_day=False) == 48
    assert counts(url) == (0, 6, total)
    assert value(url, "SELECT count(DISTINCT id) FROM observation_rows") == total
    _compare(before, _answers(pg_api, world))


def test_archive_respects_the_cutoff(pg_settings: Settings, pg_api: Api) -> None:
    """Only Observations that start before ``older_than`` move, to the hour."""
    world = World(pg_api)
    cutoff = DAY1 + timedelta(days=1, hours=6)
    moved = archive(pg_settings, cutoff, keep_newest_day=False)
    expected = sum(1 for o in world.observations if o[2] < cutoff)
    assert moved == expected == 2 * 30
    assert value(pg_settings.database, "SELECT max(phenomenon_time_start) FROM observation_rows "
                                       "WHERE archived") < cutoff
    assert value(pg_settings.database, "SELECT min(phenomenon_time_start) FROM observations") == cutoff


# -- 2. blocks are small ---------------------------------------------------------------


def test_blocks_take_a_fraction_of_the_rows(pg_settings: Settings, pg_api: Api) -> None:
    url = pg_settings.database
    (ds,) = thing_with_datastreams(pg_api, 1)
    minutes = 4 * 1440
    rows = [[iso(DAY1 + timedelta(minutes=m)), round(20 + 5 * math.sin(m / 90), 2)]
            for m in range(minutes)]
    create_observations(pg_api, ds, ["phenomenonTime", "result"], rows)
    sql(url, "VACUUM ANALYZE observations")
    rows_bytes = value(url, "SELECT pg_total_relation_size('observations')")
    before = pg_api.ok(f"Datastreams({ds})/Observations",
                       **{"$orderby": "phenomenonTime desc", "$top": "1000", "$skip": "2000"})

    assert archive(pg_settings, FAR, keep_newest_day=False) == minutes
    assert counts(url) == (0, 4, minutes)
    block_bytes = value(url, "SELECT sum(pg_column_size(b.*)) FROM observation_blocks b")
    block_total = value(url, "SELECT pg_total_relation_size('observation_blocks')")
    per_row, per_block_obs = rows_bytes / minutes, block_bytes / minutes
    assert per_row > 100, per_row  # what a row with its indexes costs
    assert per_block_obs < 60, per_block_obs
    assert per_block_obs < per_row / 5, (per_block_obs, per_row)
    # With the table's pages, TOAST and indexes, still well under the rows.
    assert block_total / minutes < per_row / 2, (block_total / minutes, per_row)
    after = pg_api.ok(f"Datastreams({ds})/Observations",
                      **{"$orderby": "phenomenonTime desc", "$top": "1000", "$skip": "2000"})
    assert after == before


def test_a_busy_day_is_split_into_blocks(pg_settings: Settings, pg_api: Api) -> None:
    """At most BLOCK_ROWS (2000) Observations per block, split in time order."""
    url = pg_settings.database
    (ds,) = thing_with_datastreams(pg_api, 1)
    times = [DAY1 + timedelta(seconds=20 * n) for n in range(4320)]
    ids = create_observations(pg_api, ds, ["phenomenonTime", "result"],
                              [[iso(t), n] for n, t in enumerate(times)])
    probes = [
        {"$orderby": "phenomenonTime desc", "$top": "7", "$skip": "2316"},
        {"$orderby": "phenomenonTime asc", "$top": "7", "$skip": "1997"},
        {"$orderby": "id desc", "$top": "3", "$skip": "4318"},
        {"$filter": f"phenomenonTime ge {iso(times[1999])} and phenomenonTime le {iso(times[2001])}"},
        {"$filter": f"id eq {ids[2000]}"},
        {"$count": "true", "$top": "0"},
    ]
    before = [pg_api.ok(f"Datastreams({ds})/Observations", **p) for p in probes]
    assert archive(pg_settings, FAR, keep_newest_day=False) == 4320
    blocks = sql(url, "SELECT cardinality(ids), first_time, last_time, min_id, max_id "
                      "FROM observation_blocks ORDER BY first_time")
    assert [b[0] for b in blocks] == [2000, 2000, 320]
    assert [(b[1], b[2]) for b in blocks] == [
        (times[0], times[1999]), (times[2000], times[3999]), (times[4000], times[4319])
    ]
    assert [(b[3], b[4]) for b in blocks] == [
        (ids[0], ids[1999]), (ids[2000], ids[3999]), (ids[4000], ids[4319])
    ]
    after = [pg_api.ok(f"Datastreams({ds})/Observations", **p) for p in probes]
    assert after == before
    assert _ids(after[0]) == ids[4320 - 2317:4320 - 2324:-1]
    assert _ids(after[1]) == ids[1997:2004]
    assert _ids(after[3]) == ids[1999:2002]
    assert after[5]["@iot.count"] == 4320


# -- 3. PATCH and DELETE of archived Observations -------------------------------------


def test_patch_and_delete_archived_observations(pg_settings: Settings, pg_api: Api) -> None:
    url = pg_settings.database
    world = World(pg_api)
    ds1, ds2 = world.ds
    snapshot = {o["@iot.id"]: o for o in pg_api.ok("Observations", **{"$top": "1000"})["value"]}
    assert len(snapshot) == len(world.observations)
    assert archive(pg_settings, FAR, keep_newest_day=False) == len(world.observations)
    assert counts(url)[0] == 0

    # PATCH one Observation of ds1's second day.
    day2 = world.ids_of(ds1)[24:48]
    target = day2[10]
    response = pg_api.client.patch(pg_api.url(f"Observations({target})"), json={"result": 999.5})
    assert response.status_code == 200, response.text
    assert response.json()["result"] == 999.5
    assert pg_api.ok(f"Observations({target})")["result"] == 999.5
    # Its block came back as rows: the whole day, the others unchanged.
    assert sorted(r[0] for r in sql(url, "SELECT id FROM observations")) == sorted(day2)
    assert counts(url) == (24, 5, len(world.observations) - 24)
    for obs in day2 + world.ids_of(ds1)[:3] + world.ids_of(ds2)[24:30]:
        if obs != target:
            assert pg_api.ok(f"Observations({obs})") == snapshot[obs]
    changed = dict(snapshot[target], result=999.5)
    assert pg_api.ok(f"Observations({target})") == changed

    # PATCH the phenomenonTime of an archived Observation of another block: the
    # Datastream's phenomenonTime follows.
    last1 = world.ids_of(ds1)[-1]
    response = pg_api.client.patch(pg_api.url(f"Observations({last1})"),
                                   json={"phenomenonTime": "2025-03-05T12:00:00Z"})
    assert response.status_code == 200, response.text
    assert pg_api.ok(f"Datastreams({ds1})")["phenomenonTime"] == (
        "2025-03-01T00:00:00Z/2025-03-05T12:00:00Z")

    # DELETE ds2's earliest Observation: gone, and the Datastream starts later.
    assert pg_api.ok(f"Datastreams({ds2})")["phenomenonTime"].startswith("2025-03-01T00:00:00Z/")
    first2 = world.ids_of(ds2)[0]
    response = pg_api.client.delete(pg_api.url(f"Observations({first2})"))
    assert response.status_code == 200, response.text
    assert_error(pg_api.get(f"Observations({first2})"), 404)
    assert pg_api.ok(f"Datastreams({ds2})")["phenomenonTime"] == (
        "2025-03-01T01:00:00Z/2025-03-03T23:30:00Z")
    assert api_count(pg_api, f"Datastreams({ds2})/Observations") == 71
    assert api_count(pg_api, "Observations") == len(world.observations) - 1
    for obs in world.ids_of(ds2)[1:24]:
        assert pg_api.ok(f"Observations({obs})") == snapshot[obs]
    assert value(url, "SELECT count(*) FROM observation_rows WHERE id = $1", first2) == 0

    # Unknown ids stay 404 with the one error shape, and change nothing.
    missing = max(snapshot) + 1000
    assert_error(pg_api.client.patch(pg_api.url(f"Observations({missing})"), json={"result": 1}), 404)
    assert_error(pg_api.client.delete(pg_api.url(f"Observations({missing})")), 404)
    assert api_count(pg_api, "Observations") == len(world.observations) - 1

    # Archived again, the changes are kept.
    archive(pg_settings, FAR, keep_newest_day=False)
    assert counts(url)[0] == 0
    assert pg_api.ok(f"Observations({target})") == changed
    assert pg_api.ok(f"Observations({last1})")["phenomenonTime"] == "2025-03-05T12:00:00Z"
    assert_error(pg_api.get(f"Observations({first2})"), 404)


# -- 4. and 5. deletes that reach blocks -------------------------------------------------


def test_delete_feature_with_archived_observations(pg_settings: Settings, pg_api: Api) -> None:
    url = pg_settings.database
    world = World(pg_api)
    ds1, ds2 = world.ds
    north, south = world.features
    ds2_before = pg_api.ok(f"Datastreams({ds2})/Observations", **{"$top": "1000"})
    assert archive(pg_settings, FAR, keep_newest_day=False) == len(world.observations)
    assert value(url, "SELECT count(*) FROM observation_blocks WHERE features @> ARRAY[$1::bigint]",
                 north) == 3
    assert api_count(pg_api, f"FeaturesOfInterest({north})/Observations") == 36

    response = pg_api.client.delete(pg_api.url(f"FeaturesOfInterest({north})"))
    assert response.status_code == 200, response.text
    assert_error(pg_api.get(f"FeaturesOfInterest({north})"), 404)
    assert api_count(pg_api, "Observations") == len(world.observations) - 36
    assert api_count(pg_api, f"Datastreams({ds1})/Observations") == 36
    assert value(url, "SELECT count(*) FROM observation_blocks WHERE features @> ARRAY[$1::bigint]",
                 north) == 0
    assert value(url, "SELECT count(*) FROM observation_rows WHERE feature_id = $1", north) == 0
    # ds1's Observations at the other feature, and all of ds2, are still there.
    remaining = pg_api.ok(f"Datastreams({ds1})/Observations", **{"$top": "1000", "$orderby": "id"})
    assert [o["@iot.id"] for o in remaining["value"]] == world.ids_of(ds1)[1::2]
    assert pg_api.ok(f"Datastreams({ds2})/Observations", **{"$top": "1000"}) == ds2_before
    assert api_count(pg_api, f"FeaturesOfInterest({south})/Observations") == 36 + 72
    # ds1's first Observation (at the deleted feature) went, so it starts an hour later.
    assert pg_api.ok(f"Datastreams({ds1})")["phenomenonTime"] == (
        "2025-03-01T01:00:00Z/2025-03-03T23:00:00Z")
    # Its observedArea now covers only the remaining feature, as ds2's always did.
    assert pg_api.ok(f"Datastreams({ds1})")["observedArea"] == (
        pg_api.ok(f"Datastreams({ds2})")["observedArea"])
    assert pg_api.ok(f"Datastreams({ds2})")["observedArea"]["coordinates"] == [9.3, 48.5]


def test_delete_datastream_with_archived_observations(pg_settings: Settings, pg_api: Api) -> None:
    url = pg_settings.database
    world = World(pg_api)
    ds1, ds2 = world.ds
    assert archive(pg_settings, FAR, keep_newest_day=True) == 96
    block_count = "SELECT count(*) FROM observation_blocks WHERE datastream_id = $1"
    assert (value(url, block_count, ds1), value(url, block_count, ds2)) == (2, 2)

    response = pg_api.client.delete(pg_api.url(f"Datastreams({ds1})"))
    assert response.status_code == 200, response.text
    assert (value(url, block_count, ds1), value(url, block_count, ds2)) == (0, 2)
    assert value(url, "SELECT count(*) FROM observation_rows WHERE datastream_id = $1", ds1) == 0
    assert api_count(pg_api, "Observations") == 72
    assert_error(pg_api.get(f"Observations({world.ids_of(ds1)[0]})"), 404)
    assert pg_api.ok(f"Observations({world.ids_of(ds2)[0]})")["@iot.id"] == world.ids_of(ds2)[0]


# -- 6. late data and the order gate -----------------------------------------------------


def _expected(
    observations: list[tuple[int, int, datetime, int]], datastream: int | None, order: str,
    k: int, skip: int = 0, before: datetime | None = None,
) -> list[int]:
    """The ids of the first ``k`` after ``skip`` in ``order`` ("phenomenonTime desc", "id",
    ...), ties broken by id in the same direction, as the server must answer."""
    chosen = [o for o in observations if (datastream is None or o[1] == datastream)
              and (before is None or o[2] < before)]
    descending = order.endswith(" desc")
    key = (lambda o: (o[2], o[0])) if order.startswith("phenomenonTime") else (lambda o: o[0])
    ordered = sorted(chosen, key=key, reverse=descending)
    return [o[0] for o in ordered[skip:skip + k]]


def _ids(body: dict[str, Any]) -> list[int]:
    return [o["@iot.id"] for o in body["value"]]


def test_first_k_with_late_data(pg_settings: Settings, pg_api: Api) -> None:
    """The first k by phenomenonTime or id, with recent rows that lie among (and before)
    the archived ones: what the block-skipping order gate must not get wrong."""
    world = World(pg_api)
    ds1, ds2 = world.ds
    assert archive(pg_settings, FAR, keep_newest_day=True) == 96
    # Late data: rows in archived days, one before everything, one tying an archived time.
    world.add(pg_api, ds1, DAY1 + timedelta(hours=5, minutes=30), 1)
    world.add(pg_api, ds1, DAY1 + timedelta(hours=7), 2)
    world.add(pg_api, ds1, DAY1 - timedelta(hours=3), 3)
    world.add(pg_api, ds1, DAY1 + timedelta(days=1, hours=23, minutes=59), 4)
    world.add(pg_api, ds1, DAY1 + timedelta(days=1, hours=6, minutes=30), 5)
    world.add(pg_api, ds1, DAY1 + timedelta(days=1, hours=5, minutes=30), 6)
    world.add(pg_api, ds2, DAY1 + timedelta(days=1, hours=12), 7)
    assert counts(pg_settings.database)[0] == 48 + 7
    # An archived block of ds2 back as rows: recent rows with low ids and early times.
    response = pg_api.client.patch(pg_api.url(f"Observations({world.ids_of(ds2)[3]})"),
                                   json={"result": 3})
    assert response.status_code == 200, response.text
    assert counts(pg_settings.database)[0] == 48 + 7 + 24
    day3_noon = DAY1 + timedelta(days=2, hours=12)
    orders = ("phenomenonTime desc", "phenomenonTime asc", "id desc", "id asc", None)

    for k in (1, 2, 5, 30, 100):
        for order in orders:
            params = {"$orderby": order} if order else {}
            name = order or "id asc"
            for ds in world.ds:
                path = f"Datastreams({ds})/Observations"
                got = pg_api.ok(path, **params, **{"$top": str(k)})
                assert _ids(got) == _expected(world.observations, ds, name, k), (ds, name, k)
                got = pg_api.ok(path, **params, **{"$top": str(k), "$skip": "20"})
                assert _ids(got) == _expected(world.observations, ds, name, k, 20), (ds, name, k, "skip")
                got = pg_api.ok(path, **params, **{
                    "$top": str(k), "$filter": f"phenomenonTime lt {iso(day3_noon)}"})
                assert _ids(got) == _expected(world.observations, ds, name, k, before=day3_noon), (
                    ds, name, k, "filter")
            expand = f"Observations($top={k}" + (f";$orderby={order})" if order else ")")
            expanded = pg_api.ok("Datastreams", **{"$orderby": "id", "$expand": expand})
            assert [d["@iot.id"] for d in expanded["value"]] == [ds1, ds2]
            for ds_json in expanded["value"]:
                assert [o["@iot.id"] for o in ds_json["Observations"]] == _expected(
                    world.observations, ds_json["@iot.id"], name, k), ("expand", ds_json["@iot.id"], name, k)
            got = pg_api.ok("Observations", **params, **{"$top": str(k)})
            assert _ids(got) == _expected(world.observations, None, name, k), ("all", name, k)
            got = pg_api.ok("Observations", **params, **{"$top": str(k), "$skip": "60"})
            assert _ids(got) == _expected(world.observations, None, name, k, 60), ("all", name, k, "skip")
            got = pg_api.ok(f"FeaturesOfInterest({world.features[0]})/Observations",
                            **params, **{"$top": str(k)})
            at_north = [o for o in world.observations if o[3] == world.features[0]]
            assert _ids(got) == _expected(at_north, None, name, k), ("feature", name, k)

    def sweep(stage: str) -> None:
        for k in range(1, 61):
            for order in orders[:4]:
                assert order is not None
                for ds in world.ds:
                    got = pg_api.ok(f"Datastreams({ds})/Observations", **{"$orderby": order,
                                                                         "$top": str(k)})
                    assert _ids(got) == _expected(world.observations, ds, order, k), (
                        stage, ds, order, k)

    # Every k up to past the recent rows: some k-th recent row lies inside an archived
    # block whose later (or earlier) Observations belong to the answer.
    sweep("recent rows among blocks")
    # Everything archived: the late rows now make blocks that overlap the day's block.
    assert archive(pg_settings, FAR, keep_newest_day=False) == 48 + 7 + 24
    assert counts(pg_settings.database) == (0, 10, len(world.observations))
    sweep("overlapping blocks")


def test_first_k_by_id_when_ids_interleave_days(pg_settings: Settings, pg_api: Api) -> None:
    """Observations posted hour by hour for three days at once: each block's id range
    holds ids of recent rows (and of other blocks), so the id order gate cannot rely on
    ranges being apart."""
    ds1, ds2 = thing_with_datastreams(pg_api, 2)
    known: list[tuple[int, int, datetime, int]] = []
    for ds in (ds1, ds2):
        times = [DAY1 + timedelta(days=d, hours=h) for h in range(24) for d in range(3)]
        ids = create_observations(pg_api, ds, ["phenomenonTime", "result"],
                                  [[iso(t), n] for n, t in enumerate(times)])
        known += [(i, ds, t, 0) for i, t in zip(ids, times, strict=True)]
    assert archive(pg_settings, FAR, keep_newest_day=True) == 96
    ranges = sql(pg_settings.database, "SELECT min_id, max_id FROM observation_blocks "
                                       "WHERE datastream_id = $1 ORDER BY first_time", ds1)
    day3 = [o[0] for o in known if o[1] == ds1 and o[2] >= DAY1 + timedelta(days=2)]
    assert any(lo < i < hi for lo, hi in ranges for i in day3)  # the point of this test

    for k in range(1, 50):
        for order in ("id desc", "id asc", "phenomenonTime desc", "phenomenonTime asc"):
            for ds in (ds1, ds2):
                got = pg_api.ok(f"Datastreams({ds})/Observations",
                                **{"$orderby": order, "$top": str(k)})
                assert _ids(got) == _expected(known, ds, order, k), (ds, order, k)
            got = pg_api.ok("Observations", **{"$orderby": order, "$top": str(k)})
            assert _ids(got) == _expected(known, None, order, k), ("all", order, k)
        if k % 7 == 0:
            got = pg_api.ok("Observations", **{"$top": str(k), "$skip": str(k)})
            assert _ids(got) == _expected(known, None, "id asc", k, k), ("default", k)
            expanded = pg_api.ok("Datastreams", **{
                "$orderby": "id", "$expand": f"Observations($orderby=id desc;$top={k})"})
            for ds_json in expanded["value"]:
                assert [o["@iot.id"] for o in ds_json["Observations"]] == _expected(
                    known, ds_json["@iot.id"], "id desc", k), ("expand", k)


def test_move_archived_observation_to_another_datastream(pg_settings: Settings, pg_api: Api) -> None:
    world = World(pg_api)
    ds1, ds2 = world.ds
    assert archive(pg_settings, FAR, keep_newest_day=False) == len(world.observations)
    first = world.ids_of(ds1)[0]
    response = pg_api.client.patch(pg_api.url(f"Observations({first})"),
                                   json={"Datastream": {"@iot.id": ds2},
                                         "phenomenonTime": "2025-02-20T00:00:00Z"})
    assert response.status_code == 200, response.text
    assert pg_api.ok(f"Observations({first})/Datastream")["@iot.id"] == ds2
    assert api_count(pg_api, f"Datastreams({ds1})/Observations") == 71
    assert api_count(pg_api, f"Datastreams({ds2})/Observations") == 73
    # Both Datastreams' derived times follow: ds1 lost its first, ds2 starts earlier.
    assert pg_api.ok(f"Datastreams({ds1})")["phenomenonTime"] == (
        "2025-03-01T01:00:00Z/2025-03-03T23:00:00Z")
    assert pg_api.ok(f"Datastreams({ds2})")["phenomenonTime"] == (
        "2025-02-20T00:00:00Z/2025-03-03T23:30:00Z")
    first_of_ds2 = pg_api.ok(f"Datastreams({ds2})/Observations",
                             **{"$orderby": "phenomenonTime asc", "$top": "1"})
    assert _ids(first_of_ds2) == [first]


def test_other_tenants_cannot_reach_archived_observations(
    pg_settings: Settings, pg_api: Api
) -> None:
    url = pg_settings.database
    create_tenant(pg_settings, "nachbar")
    neighbour = Api(pg_api.client, "/t/nachbar/v1.1")
    world = World(pg_api)
    assert archive(pg_settings, FAR, keep_newest_day=False) == len(world.observations)
    obs = world.ids_of(world.ds[0])[10]
    assert_error(neighbour.get(f"Observations({obs})"), 404)
    assert_error(neighbour.client.patch(neighbour.url(f"Observations({obs})"),
                                        json={"result": 1}), 404)
    assert_error(neighbour.client.delete(neighbour.url(f"Observations({obs})")), 404)
    assert neighbour.ok("Observations", **{"$top": "5"})["value"] == []
    assert neighbour.ok("Observations", **{"$orderby": "phenomenonTime desc", "$top": "5"})[
        "value"] == []
    assert api_count(neighbour, "Observations") == 0
    # Nothing came out of the archive, nothing changed.
    assert counts(url) == (0, 6, len(world.observations))
    assert pg_api.ok(f"Observations({obs})")["result"] == (10 * 7) % 25

    # The neighbour's own Observations, older than all of the town's, archived too:
    # the block-skipping gates of each tenant see only its own blocks.
    (theirs,) = thing_with_datastreams(neighbour, 1)
    their_ids = create_observations(neighbour, theirs, ["phenomenonTime", "result"], [
        [iso(datetime(2020, 1, 1, tzinfo=UTC) + timedelta(hours=h)), h] for h in range(30)])
    assert archive(pg_settings, FAR, keep_newest_day=False) == 30
    for k in (1, 5, 29, 30, 31):
        for order, expected in (("phenomenonTime desc", their_ids[::-1][:k]),
                                ("phenomenonTime asc", their_ids[:k]),
                                ("id desc", their_ids[::-1][:k]), ("id asc", their_ids[:k])):
            got = neighbour.ok("Observations", **{"$orderby": order, "$top": str(k)})
            assert _ids(got) == expected, (order, k)
            got = neighbour.ok(f"Datastreams({theirs})/Observations",
                               **{"$orderby": order, "$top": str(k)})
            assert _ids(got) == expected, (order, k)
    assert api_count(neighbour, "Observations") == 30
    assert api_count(pg_api, "Observations") == len(world.observations)
    assert _ids(pg_api.ok("Observations", **{"$orderby": "phenomenonTime asc", "$top": "1"})) == [
        world.ids_of(world.ds[0])[0]]


def test_failed_atomic_batch_leaves_the_block_archived(pg_settings: Settings, pg_api: Api) -> None:
    url = pg_settings.database
    world = World(pg_api)
    assert archive(pg_settings, FAR, keep_newest_day=False) == len(world.observations)
    obs = world.ids_of(world.ds[0])[30]
    before = pg_api.ok(f"Observations({obs})")
    missing = max(o[0] for o in world.observations) + 500
    response = pg_api.client.post(pg_api.url("$batch"), json={"requests": [
        {"id": "a", "method": "PATCH", "url": f"Observations({obs})", "body": {"result": 77},
         "atomicityGroup": "g"},
        {"id": "b", "method": "DELETE", "url": f"Observations({world.ids_of(world.ds[1])[5]})",
         "atomicityGroup": "g"},
        {"id": "c", "method": "PATCH", "url": f"Observations({missing})", "body": {"result": 1},
         "atomicityGroup": "g"},
    ]})
    assert response.status_code == 200, response.text
    statuses = {r["id"]: r["status"] for r in response.json()["responses"]}
    assert statuses["c"] == 404, statuses
    assert statuses["a"] >= 400 and statuses["b"] >= 400, statuses
    assert pg_api.ok(f"Observations({obs})") == before
    assert pg_api.ok(f"Observations({world.ids_of(world.ds[1])[5]})")["@iot.id"] == (
        world.ids_of(world.ds[1])[5])
    assert counts(url) == (0, 6, len(world.observations))

    # The same without the failing request: committed, the blocks come back as rows.
    response = pg_api.client.post(pg_api.url("$batch"), json={"requests": [
        {"id": "a", "method": "PATCH", "url": f"Observations({obs})", "body": {"result": 77},
         "atomicityGroup": "g"},
        {"id": "b", "method": "DELETE", "url": f"Observations({world.ids_of(world.ds[1])[5]})",
         "atomicityGroup": "g"},
    ]})
    assert response.status_code == 200, response.text
    assert [r["status"] for r in response.json()["responses"]] == [200, 200]
    assert pg_api.ok(f"Observations({obs})")["result"] == 77
    assert_error(pg_api.get(f"Observations({world.ids_of(world.ds[1])[5]})"), 404)
    assert counts(url) == (24 + 23, 4, len(world.observations) - 48)


# -- 7. writes while the archive job runs -----------------------------------------------


def test_patch_archived_observations_while_archiving(pg_settings: Settings, pg_api: Api) -> None:
    world = World(pg_api)
    assert archive(pg_settings, FAR, keep_newest_day=False) == len(world.observations)
    targets = [o[0] for o in world.observations][::2][:50]
    assert len(targets) == 50
    stop = threading.Event()
    moved: list[int] = []
    errors: list[BaseException] = []

    def archiver() -> None:
        async def run() -> None:
            store = open_store(pg_settings)
            await store.open()
            try:
                while not stop.is_set():
                    moved.append(await store.archive(FAR, keep_newest_day=False))
                    await asyncio.sleep(0.001)
            finally:
                await store.close()

        try:
            asyncio.run(run())
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=archiver, daemon=True)
    thread.start()
    statuses: list[tuple[int, int, str]] = []
    try:
        for n, obs in enumerate(targets):
            response = pg_api.client.patch(pg_api.url(f"Observations({obs})"),
                                           json={"result": 1000 + n})
            statuses.append((obs, response.status_code, response.text[:300]))
            if response.status_code == 200:
                assert response.json()["result"] == 1000 + n
            if n % 10 == 9:
                time.sleep(0.02)  # let the archiver repack what came back
    finally:
        stop.set()
        thread.join(30)
    assert not thread.is_alive()
    assert errors == []
    assert [s for s in statuses if s[1] != 200] == []
    runs_with_work = sum(1 for m in moved if m)
    assert runs_with_work > 0, moved  # the archiver really packed rows the PATCHes brought back
    for n, obs in enumerate(targets):
        assert pg_api.ok(f"Observations({obs})")["result"] == 1000 + n
    url = pg_settings.database
    assert value(url, "SELECT count(*) FROM observation_rows") == len(world.observations)
    assert value(url, "SELECT count(DISTINCT id) FROM observation_rows") == len(world.observations)
    archive(pg_settings, FAR, keep_newest_day=False)
    results = {o["@iot.id"]: o["result"] for o in pg_api.ok("Observations", **{"$top": "1000"})["value"]}
    assert [results[obs] for obs in targets] == [1000 + n for n in range(50)]
    assert len(results) == len(world.observations)


def test_batch_writing_rows_and_archived_observations_while_archiving(
    pg_settings: Settings, pg_api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    """A $batch whose atomicity group adds an Observation to a Datastream and changes an
    archived one, again and again while the archive job runs: neither side may fail, nor
    deadlock with the other (a deadlock costs a second and a retry of the write group)."""
    caplog.set_level(logging.INFO, logger="quartier")
    world = World(pg_api)
    ds1 = world.ds[0]
    assert archive(pg_settings, FAR, keep_newest_day=False) == len(world.observations)
    stop = threading.Event()
    runs: list[int] = []
    errors: list[str] = []

    def archiver() -> None:
        """Another process: it adds an Observation to ds1 (so that there is always
        something to archive), then archives."""
        async def run() -> None:
            store = open_store(pg_settings)
            await store.open()
            tenant = await store.tenant_id("default")
            assert tenant is not None
            try:
                for n in itertools.count():
                    if stop.is_set():
                        break
                    batch, _ = parse_create(ENTITY_TYPES["Observation"], {
                        "result": n, "Datastream": {"@iot.id": ds1},
                        "phenomenonTime": iso(DAY1 + timedelta(days=1, seconds=n))})
                    try:
                        await store.write(tenant, batch)
                        runs.append(await store.archive(FAR, keep_newest_day=False))
                    except Exception as exc:
                        errors.append(repr(exc))
                        return
                    await asyncio.sleep(0)
            finally:
                await store.close()

        asyncio.run(run())

    def deadlocks() -> list[str]:
        return [r.getMessage() for r in caplog.records if "Deadlock" in r.getMessage()]

    thread = threading.Thread(target=archiver, daemon=True)
    thread.start()
    statuses: list[list[int]] = []
    try:
        for n in range(200):
            target = world.ids_of(ds1)[(n * 5) % 72]
            response = pg_api.client.post(pg_api.url("$batch"), json={"requests": [
                *({"id": f"new{i}", "method": "POST", "url": "Observations", "atomicityGroup": "g",
                   "body": {"result": n, "Datastream": {"@iot.id": ds1},
                            "phenomenonTime": iso(DAY1 + timedelta(minutes=n, seconds=i))}}
                  for i in range(4)),
                {"id": "old", "method": "PATCH", "url": f"Observations({target})",
                 "atomicityGroup": "g", "body": {"result": 500 + n}},
            ]})
            assert response.status_code == 200, response.text
            statuses.append([r["status"] for r in response.json()["responses"]])
            if errors or deadlocks():
                break
    finally:
        stop.set()
        thread.join(30)
    assert errors == [], (errors, len(runs))
    assert deadlocks() == []
    assert all(s == [201, 201, 201, 201, 200] for s in statuses), statuses
    assert sum(1 for r in runs if r) > 0


def test_concurrent_patches_of_one_archived_block(pg_settings: Settings, pg_api: Api) -> None:
    """Two clients PATCH two Observations of the same archived block at about the same
    time, through one server (whose writers may run two transactions at once): both
    must succeed."""
    world = World(pg_api)
    ds1, ds2 = world.ds
    failures: list[tuple[str, int, str]] = []
    patched: dict[int, int] = {}

    async def scenario() -> None:
        app = build_app(pg_settings)
        async with app.router.lifespan_context(app), httpx2.AsyncClient(
            transport=httpx2.ASGITransport(app=app), base_url="http://testserver"
        ) as client:
            from quartier.auth.keys import KeyRequest
            from quartier.auth.roles import Role

            key, _ = await app.state.keys.create(1, KeyRequest("t", Role.EDITOR), "tests")
            client.headers["Authorization"] = f"Bearer {key}"

            async def patch(obs: int, result: int, delay: float) -> None:
                await asyncio.sleep(delay)
                response = await client.patch(f"/v1.1/Observations({obs})", json={"result": result})
                if response.status_code != 200:
                    failures.append((f"PATCH /v1.1/Observations({obs})", response.status_code,
                                     response.text))
                else:
                    patched[obs] = result

            for delay in (0.0, 0.002, 0.005):
                await app.state.store.archive(FAR, keep_newest_day=False)
                for ds in (ds1, ds2):
                    for day in range(3):
                        x, y = world.ids_of(ds)[day * 24 + 1], world.ids_of(ds)[day * 24 + 2]
                        n = int(delay * 1000)
                        await asyncio.gather(patch(x, 1000 + n, 0.0), patch(y, 2000 + n, delay))

    asyncio.run(scenario())
    assert failures == []
    for obs, result in patched.items():
        assert pg_api.ok(f"Observations({obs})")["result"] == result


# -- 8. the background job ---------------------------------------------------------------


def test_background_job_archives_at_startup(
    pg_settings: Settings, pg_client: TestClient, tmp_path: Path
) -> None:
    url = pg_settings.database
    assert url
    api = Api(pg_client)
    world = World(api, start=datetime(2020, 6, 1, tzinfo=UTC))
    before = api.ok("Observations", **{"$orderby": "id", "$top": "500"})
    assert counts(url) == (144, 0, 0)

    with_job = Settings.validated({"database": url, "data_dir": tmp_path / "job",
                                   "archive_after_days": 1})
    with TestClient(build_app(with_job), raise_server_exceptions=False) as client:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and counts(url)[2] < 96:
            time.sleep(0.1)
        assert counts(url) == (48, 4, 96)
        newest = sql(url, "SELECT DISTINCT datastream_id, date_trunc('day', phenomenon_time_start, "
                          "'UTC') FROM observations ORDER BY 1")
        assert [(r[0], r[1].replace(tzinfo=None)) for r in newest] == [
            (ds, datetime(2020, 6, 3)) for ds in world.ds
        ]
        assert Api(client).ok("Observations", **{"$orderby": "id", "$top": "500"}) == before


# -- 9. the command line -----------------------------------------------------------------


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUARTIER_")}
    return subprocess.run([sys.executable, "-m", "quartier", "archive", *args], env=env,
                          capture_output=True, text=True, timeout=60, check=False)


def test_cli_archives(pg_settings: Settings, pg_api: Api, tmp_path: Path) -> None:
    url = pg_settings.database
    assert url
    World(pg_api, start=datetime(2021, 1, 1, tzinfo=UTC))
    done = _cli("--database", url, "--data-dir", str(tmp_path), "--keep-days", "0")
    assert done.returncode == 0, done.stderr
    found = re.fullmatch(r"archived (\d+) Observations older than \d{4}-\d\d-\d\d \d\d:\d\d UTC\n",
                         done.stdout)
    assert found, done.stdout
    assert int(found.group(1)) == 96
    assert counts(url) == (48, 4, 96)
    again = _cli("--database", url, "--data-dir", str(tmp_path), "--keep-days", "0")
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith("archived 0 Observations"), again.stdout

    refused = _cli("--database", url, "--data-dir", str(tmp_path), "--keep-days", "-1")
    assert refused.returncode == 2, (refused.stdout, refused.stderr)
    assert "--keep-days must be 0 or more" in refused.stderr
    assert counts(url) == (48, 4, 96)


def test_sqlite_has_no_archive(tmp_path: Path) -> None:
    settings = Settings.validated({"data_dir": tmp_path})
    with TestClient(make_app(settings), raise_server_exceptions=False) as client:
        api = Api(client)
        (ds,) = thing_with_datastreams(api, 1)
        create_observations(api, ds, ["phenomenonTime", "result"],
                            [[iso(datetime(2020, 1, 1, h, tzinfo=UTC)), h] for h in range(24)])
        before = api.ok("Observations", **{"$orderby": "id"})
    assert archive(settings, FAR, keep_newest_day=False) == 0
    done = _cli("--data-dir", str(tmp_path), "--keep-days", "0")
    assert done.returncode == 0, done.stderr
    assert "nothing to archive" in done.stdout
    assert not done.stdout.startswith("archived")
    with TestClient(make_app(settings), raise_server_exceptions=False) as client:
        assert Api(client).ok("Observations", **{"$orderby": "id"}) == before
        assert api_count(Api(client), "Observations") == 24
