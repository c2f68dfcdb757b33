"""The fast ways of CSV import, held against the plain ones: times converted once per local
hour against a conversion per row (:func:`quartier.import_times.exact_time`), the value
reader against its definition, and rows written as columns (binary COPY, executemany)
against the same Observations written one by one through the SensorThings API."""

from __future__ import annotations

import asyncio
import json
import math
import sqlite3
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from conftest import Api, datastream_body, full_thing_body, observed_property_body, sensor_body
from quartier import importer
from quartier.errors import BadRequest
from quartier.import_times import TimeReader, exact_time, from_micros, to_micros
from quartier.importer import _value
from quartier.settings import Settings

IMPORT = "/api/imports/csv"

# Zones with whole-hour changes, half-hour DST (Lord Howe), odd offsets (St John's,
# Kathmandu), a skipped day (Apia, 2011-12-30), changes at midnight (Sao Paulo), and
# local mean time before 1893 (Berlin).
ZONES = ["Europe/Berlin", "Australia/Lord_Howe", "America/St_Johns", "Asia/Kathmandu",
         "Pacific/Apia", "America/Sao_Paulo", "UTC"]


def _outcome(read: Any, text: str) -> tuple[str, Any]:
    try:
        return "ok", read(text)
    except BadRequest as exc:
        return "bad", exc.message


def _assert_same(time_format: str, zone_name: str, texts: list[str]) -> None:
    """One reader (its hour cache filled as it goes) reads every text as the exact way does."""
    zone = ZoneInfo(zone_name)
    reader = TimeReader(time_format, zone)
    for text in texts:
        fast = _outcome(reader.read, text)
        exact = _outcome(lambda t: to_micros(exact_time(t, time_format, zone)), text)
        assert fast == exact, (text, time_format, zone_name)


def _local_texts(moments: list[datetime], pattern: str) -> list[str]:
    return [pattern.format(t=t) for t in moments]


GERMAN = "{t.day:02d}.{t.month:02d}.{t.year:04d} {t.hour:02d}:{t.minute:02d}"
WITH_FRACTION = ("{t.year:04d}-{t.month:02d}-{t.day:02d} {t.hour:02d}:{t.minute:02d}:"
                 "{t.second:02d}.{t.microsecond:06d}")
HOUR_FIRST = "{t.hour:02d}:{t.minute:02d} {t.day:02d}.{t.month:02d}.{t.year:04d}"
ISO_LOCAL = "{t:%Y-%m-%dT%H:%M:%S}"


def _transitions(zone_name: str) -> list[datetime]:
    """Local times every 10 minutes through the hours around this zone's changes in 2024
    (and Apia's skipped day), where an hour's offset must not be reused."""
    out = []
    days = [datetime(2024, m, d) for m in range(1, 13) for d in (1, 7, 14, 21, 28)]
    zone = ZoneInfo(zone_name)
    changes = [d for d in days if (d.replace(tzinfo=zone).utcoffset()
                                   != (d + timedelta(days=7)).replace(tzinfo=zone).utcoffset())]
    for week in changes:
        for step in range(0, 8 * 24 * 6):
            out.append(week + timedelta(minutes=10 * step))
    out += [datetime(2011, 12, 29, 23) + timedelta(minutes=10 * s) for s in range(24 * 6 * 2)]
    return out


@pytest.mark.parametrize("zone_name", ZONES)
def test_times_at_every_change_of_offset(zone_name: str) -> None:
    moments = _transitions(zone_name)
    for time_format, pattern in (("%d.%m.%Y %H:%M", GERMAN), ("%H:%M %d.%m.%Y", HOUR_FIRST),
                                 ("%Y-%m-%d %H:%M:%S.%f", WITH_FRACTION), ("", ISO_LOCAL)):
        _assert_same(time_format, zone_name, _local_texts(moments, pattern))


_MOMENTS = st.lists(st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59)),
                    min_size=1, max_size=40)


@hypothesis_settings(max_examples=150, deadline=None)
@given(zone_name=st.sampled_from(ZONES), moments=_MOMENTS)
def test_times_anywhere_in_the_years_1_to_9999(zone_name: str, moments: list[datetime]) -> None:
    """Also the first and last hours of the range, where the UTC time may lie outside it."""
    for time_format, pattern in (("%d.%m.%Y %H:%M", GERMAN),
                                 ("%Y-%m-%d %H:%M:%S.%f", WITH_FRACTION), ("", ISO_LOCAL)):
        _assert_same(time_format, zone_name, _local_texts(moments, pattern))


@hypothesis_settings(max_examples=200, deadline=None)
@given(zone_name=st.sampled_from(ZONES),
       texts=st.lists(st.from_regex(r"\A[0-9]{1,2}\.[0-9]{1,2}\.[0-9]{4} [0-9]{1,2}:[0-9]{1,2}\Z"),
                      min_size=1, max_size=20))
def test_wrong_days_hours_and_minutes_are_reported_alike(zone_name: str, texts: list[str]) -> None:
    """31.02., hour 24, minute 60, 7 or 07: the same times, and the same errors."""
    _assert_same("%d.%m.%Y %H:%M", zone_name, texts)


def test_iso_times_with_offsets() -> None:
    texts = ["2024-03-31T02:30:00+02:00", "2024-10-27T02:30:00+01:00", "2024-01-01T00:00:00Z",
             "2024-01-01T00:00:00.5Z", "1999-12-31T23:59:59.999999Z", "0001-01-01T00:30:00+01:00",
             "0001-01-01T00:30:00-01:00", "9999-12-31T23:30:00-01:00", "2024-06-01T12:00:00+05:45",
             "2024-06-01T12:00:00-09:30", "2024-06-01 12:00:00+02:00", "20240601T120000Z",
             "2024-06-01T12:00Z", "yesterday", "2024-02-30T10:00:00Z", ""]
    for zone_name in ("Europe/Berlin", "UTC"):
        _assert_same("", zone_name, texts)


def test_other_formats_take_strptime() -> None:
    texts = ["15 Jan 2024 08:00 AM", "31 Mar 2024 02:30 AM", "1 Feb 2024 13:00 PM", "kaputt"]
    _assert_same("%d %b %Y %I:%M %p", "Europe/Berlin", texts)
    _assert_same("%H:%M", "UTC", ["10:00", "25:00"])  # no %Y: strptime's year 1900


def test_micros_and_datetimes() -> None:
    for moment in (datetime(1, 1, 1, tzinfo=UTC), datetime(1999, 12, 31, 23, 59, 59, 1, tzinfo=UTC),
                   datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)):
        assert from_micros(to_micros(moment)) == moment


# -- values ----------------------------------------------------------------------------------


def _value_by_definition(text: str) -> Any:
    """What a value is: a whole number (64 bits) where int() reads one, else a finite
    float where float() reads one, else the text; a lone comma is a decimal point."""
    if not text:
        raise BadRequest("the value is empty")
    if "\x00" in text:
        raise BadRequest("the value holds a NUL character")
    normal = text.replace(",", ".") if text.count(",") == 1 and "." not in text else text
    try:
        whole = int(normal)
        if -(2**63) <= whole < 2**63:
            return whole
    except ValueError:
        pass
    try:
        number = float(normal)
    except ValueError:
        return text
    if not math.isfinite(number):
        raise BadRequest(f"the value {text!r} is not a finite number")
    return number


@hypothesis_settings(max_examples=500, deadline=None)
@given(st.text(alphabet="0123456789+-.,e_ nafiINFx٣\x00", max_size=12)
       | st.integers(min_value=-(2**70), max_value=2**70).map(str))
def test_values_read_as_defined(text: str) -> None:
    text = text.strip()
    fast, defined = _outcome(_value, text), _outcome(_value_by_definition, text)
    if fast[0] == "ok" and defined[0] == "ok":
        assert (type(fast[1]), fast[1]) == (type(defined[1]), defined[1]), text
    else:
        assert fast == defined, text


# -- rows written as columns against one POST each -----------------------------------------


BERLIN = ZoneInfo("Europe/Berlin")
# (time in the file, value in the file, the result a client would POST)
ROWS: list[tuple[str, str, Any]] = [
    ("2024-03-31T01:59:00", "12", 12),
    ("2024-03-31T02:30:00", "-7", -7),  # no such time in Berlin: read with the offset before
    ("2024-03-31T03:00:00", "+3", 3),
    ("2024-10-27T02:30:00", "2,5", 2.5),  # twice in Berlin: the first (summer time)
    ("2024-10-27T03:00:00", "0.125", 0.125),
    ("2024-07-01T12:00:00+05:45", "1e3", 1000.0),
    ("2024-07-01T12:00:01Z", "Pegel überflutet", "Pegel überflutet"),
    ("1999-12-31T23:59:59.999999", "9007199254740991", 9007199254740991),  # 2**53 - 1
    ("0999-05-01T10:00:00.000001", "9007199254740993", 9007199254740993),  # kept as JSON
    ("2000-01-01T00:00:00", "-9007199254740992", -9007199254740992),
    ("2024-01-01T00:00:00", "007", 7),
    ("2024-01-01T00:10:00", "true", "true"),  # a text: CSV has no booleans
    ("2024-01-01T00:20:00", "-0,0", -0.0),
    ("2024-01-01T00:30:00", "Eis; \"glatt\"", "Eis; \"glatt\""),
    ("2024-01-01T00:40:00", "1_000", 1000),
    ("2024-01-01T00:50:00", "\u0663", 3),  # an Arabic-Indic three: int() reads it
]


def _utc_text(local: str) -> str:
    """The time as the exact way reads it, as a client would POST it."""
    return exact_time(local, "", BERLIN).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def _csv(rows: list[tuple[str, str, Any]]) -> str:
    def cell(text: str) -> str:
        return '"' + text.replace('"', '""') + '"' if any(c in text for c in ';"') else text

    return "t;v\n" + "".join(f"{t};{cell(v)}\n" for t, v, _ in rows)


def _compared(api: Api, ds: int) -> list[Any]:
    page = api.ok(f"Datastreams({ds})/Observations", **{
        "$orderby": "phenomenonTime,id", "$top": 1000,
        "$select": "phenomenonTime,resultTime,result,validTime,parameters,resultQuality"})
    return page["value"]


def _raw_rows(settings: Settings, ds: int) -> list[tuple[Any, ...]]:
    sql = ("SELECT tenant_id, phenomenon_time_start, phenomenon_time_end, result_time,"
           " result_type, result_number, result_string, result_json, result_quality,"
           " valid_time_start, valid_time_end, parameters, feature_id FROM observations"
           " WHERE datastream_id = {} ORDER BY phenomenon_time_start, id")
    if settings.database:
        async def fetch() -> list[tuple[Any, ...]]:
            conn = await asyncpg.connect(settings.database)
            try:
                return [tuple(r) for r in await conn.fetch(sql.format("$1"), ds)]
            finally:
                await conn.close()

        return asyncio.run(fetch())
    with sqlite3.connect(settings.sqlite_path) as db:
        return db.execute(sql.format("?"), (ds,)).fetchall()


def test_columns_write_what_one_post_each_writes(backend: str, settings: Settings, api: Api,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Every kind of value, times before 2000 and before 1000, DST in Berlin; pieces of 5
    rows, so that text and JSON results fall on the edges of COPY pieces. Two Datastreams of
    one Thing: the import's and the POSTs' Observations must be the same, down to the
    stored columns, with the same FeatureOfInterest and the same Datastream spans."""
    monkeypatch.setattr(importer, "CHUNK", 5)
    thing = api.create("Things", full_thing_body("Pegel Erlenbach"))
    imported = int(api.ok(f"Things({thing})/Datastreams")["value"][0]["@iot.id"])
    posted = api.create(f"Things({thing})/Datastreams", datastream_body(
        "Level by POST", Sensor=sensor_body(), ObservedProperty=observed_property_body()))

    response = api.client.post(IMPORT, params={
        "datastream": imported, "timeColumn": "t", "valueColumn": "v", "delimiter": ";",
        "timezone": "Europe/Berlin"}, content=_csv(ROWS).encode(),
        headers={"content-type": "text/csv"})
    assert response.status_code == 201, response.text
    assert response.json() == {"rows": len(ROWS), "written": len(ROWS), "badRows": 0, "errors": []}
    for local, _, result in ROWS:
        api.create(f"Datastreams({posted})/Observations",
                   {"phenomenonTime": _utc_text(local), "result": result})

    mine, theirs = _compared(api, imported), _compared(api, posted)
    assert json.dumps(mine) == json.dumps(theirs)  # as text: 1 and 1.0 differ
    assert len(mine) == len(ROWS)
    by_time = {o["phenomenonTime"]: o["result"] for o in mine}
    assert by_time["0999-05-01T09:06:32.000001Z"] == 9007199254740993  # Berlin's mean time
    assert by_time["2024-03-31T01:30:00Z"] == -7
    assert by_time["2024-10-27T00:30:00Z"] == 2.5

    stream, other = api.ok(f"Datastreams({imported})"), api.ok(f"Datastreams({posted})")
    for name in ("phenomenonTime", "resultTime", "observedArea"):
        assert stream.get(name) == other.get(name), name
    assert stream["phenomenonTime"].split("/")[0] == "0999-05-01T09:06:32.000001Z"
    features = {api.ok(f"Datastreams({ds})/Observations", **{"$top": 1, "$expand":
                       "FeatureOfInterest($select=id)"})["value"][0]["FeatureOfInterest"]["@iot.id"]
                for ds in (imported, posted)}
    assert len(features) == 1  # the one made from the Thing's Location, by the import
    if backend != "archived":  # which packs the rows into blocks after each write
        raw = _raw_rows(settings, imported)
        assert len(raw) == len(ROWS)
        assert raw == _raw_rows(settings, posted)


def test_import_into_a_datastream_with_older_and_newer_observations(api: Api) -> None:
    """The span grows on the side the file reaches past, as a POST's would."""
    thing = api.create("Things", full_thing_body("Pegel Aubach"))
    ds = int(api.ok(f"Things({thing})/Datastreams")["value"][0]["@iot.id"])
    for when in ("2024-01-01T00:00:00Z", "2024-12-31T00:00:00Z"):
        api.create(f"Datastreams({ds})/Observations", {"phenomenonTime": when, "result": 1})
    body = "t,v\n2024-06-01T00:00:00Z,2\n2025-02-01T00:00:00Z,3\n"
    response = api.client.post(IMPORT, params={"datastream": ds, "timeColumn": "t",
                                               "valueColumn": "v"},
                               content=body.encode(), headers={"content-type": "text/csv"})
    assert response.status_code == 201, response.text
    assert api.ok(f"Datastreams({ds})")["phenomenonTime"] == (
        "2024-01-01T00:00:00Z/2025-02-01T00:00:00Z")
