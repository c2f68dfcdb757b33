"""Importing a historic series from CSV: over HTTP (``POST /api/imports/csv``) and with
``quartier import csv``, on every backend; checked by reading the Observations back."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from conftest import Api, TestClient, backend_settings, create_tenant, full_thing_body, make_app
from quartier.settings import Settings

IMPORT = "/api/imports/csv"
ERROR_KEYS = {"code", "message"}


# -- helpers ----------------------------------------------------------------------------


def new_datastream(api: Api, name: str = "Pegel Mühlbach") -> int:
    """A Thing with a Location and one Datastream; the Datastream's id."""
    thing = api.create("Things", full_thing_body(name))
    return int(api.ok(f"Things({thing})/Datastreams")["value"][0]["@iot.id"])


def post_csv(client: TestClient, body: bytes | str, prefix: str = "", **params: Any) -> Any:
    data = body.encode("utf-8") if isinstance(body, str) else body
    return client.post(prefix + IMPORT, params=params, content=data,
                       headers={"content-type": "text/csv"})


def observations(api: Api, ds: int) -> tuple[int, list[dict[str, Any]]]:
    """(@iot.count, Observations ordered by phenomenonTime) of a Datastream."""
    page = api.ok(f"Datastreams({ds})/Observations",
                  **{"$count": "true", "$top": 10000, "$orderby": "phenomenonTime"})
    return int(page["@iot.count"]), page["value"]


def count(api: Api, ds: int) -> int:
    page = api.ok(f"Datastreams({ds})/Observations", **{"$count": "true", "$top": 1})
    return int(page["@iot.count"])


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def assert_error(response: Any, status: int, *words: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) >= ERROR_KEYS, body
    assert isinstance(body["message"], str) and body["message"]
    for word in words:
        assert word in body["message"], (word, body["message"])
    return body


# The file of the bad-rows tests: header on line 1, bad rows on lines 4, 7, 8 and 10
# (line 6 is blank, and is skipped but still counted as a line of the file).
BAD_FILE = (
    "t,v,note\n"
    "2024-05-01T00:00:00Z,1,a\n"  # 2
    "2024-05-01T00:15:00Z,2.5,b\n"  # 3
    "yesterday noon,3,c\n"  # 4: unparseable time
    "2024-05-01T00:45:00Z,4,d\n"  # 5
    "\n"  # 6: blank
    "2024-05-01T01:00:00Z,,e\n"  # 7: empty value
    "2024-05-01T01:15:00Z,6\n"  # 8: two fields where the header has three
    "2024-05-01T01:30:00Z,7,g\n"  # 9
    "2024-05-01T01:45:00Z,nan,h\n"  # 10: not a finite number
    "2024-05-01T02:00:00Z,9,i\n"  # 11
)
BAD_LINES = [4, 7, 8, 10]
GOOD_IN_BAD_FILE = [
    (utc(2024, 5, 1, 0, 0), 1), (utc(2024, 5, 1, 0, 15), 2.5), (utc(2024, 5, 1, 0, 45), 4),
    (utc(2024, 5, 1, 1, 30), 7), (utc(2024, 5, 1, 2, 0), 9),
]


def assert_good_rows_of_bad_file(obs: list[dict[str, Any]]) -> None:
    assert [(instant(o["phenomenonTime"]), o["result"]) for o in obs] == GOOD_IN_BAD_FILE
    assert [type(o["result"]) for o in obs] == [int, float, int, int, int]


# -- 1. HTTP upload, ISO 8601 ------------------------------------------------------------


def _iso_file() -> tuple[str, list[tuple[datetime, Any]]]:
    """500 rows every 15 minutes, written with various UTC offsets; ints, decimals and
    one text value."""
    offsets = [timedelta(hours=2), timedelta(0), timedelta(hours=-5, minutes=-30),
               timedelta(hours=5, minutes=45)]
    start = utc(2023, 12, 31, 20, 0)
    lines = ["station,t,v"]
    expected: list[tuple[datetime, Any]] = []
    for i in range(500):
        when = start + timedelta(minutes=15 * i)
        offset = offsets[i % len(offsets)]
        local = when.astimezone(timezone(offset))
        text_time = local.isoformat() if offset else when.strftime("%Y-%m-%dT%H:%M:%SZ")
        if i == 250:
            text_value, value = "sensor offline", "sensor offline"
        elif i % 2:
            text_value, value = f"{i}.25", i + 0.25
        else:
            text_value, value = str(i - 100), i - 100
        lines.append(f"S{i % 3},{text_time},{text_value}")
        expected.append((when, value))
    return "\n".join(lines) + "\n", expected


def test_http_import_iso_times(api: Api) -> None:
    ds = new_datastream(api)
    body, expected = _iso_file()
    response = post_csv(api.client, body, datastream=ds, timeColumn="t", valueColumn="v")
    assert response.status_code == 201, response.text
    assert response.json() == {"rows": 500, "written": 500, "badRows": 0, "errors": []}

    total, obs = observations(api, ds)
    assert total == 500
    assert len(obs) == 500
    got = [(instant(o["phenomenonTime"]), o["result"]) for o in obs]
    assert got == expected
    # The types survive: integers stay integers, decimals floats, text stays text.
    assert obs[0]["result"] == -100 and type(obs[0]["result"]) is int
    assert obs[1]["result"] == 1.25 and type(obs[1]["result"]) is float
    assert obs[250]["result"] == "sensor offline"
    assert obs[498]["result"] == 398 and type(obs[498]["result"]) is int
    assert obs[499]["result"] == 499.25
    # Row 3 was written "2024-01-01T02:30:00+05:45".
    assert instant(obs[3]["phenomenonTime"]) == utc(2023, 12, 31, 20, 45)
    assert instant(obs[499]["phenomenonTime"]) == utc(2024, 1, 6, 0, 45)
    assert len({o["@iot.id"] for o in obs}) == 500
    # Each Observation got the FeatureOfInterest made from the Thing's Location.
    feature = api.ok(f"Observations({obs[123]['@iot.id']})/FeatureOfInterest")
    assert feature["feature"] == {"type": "Point", "coordinates": [9.18, 48.78]}

    stream = api.ok(f"Datastreams({ds})")
    first, last = stream["phenomenonTime"].split("/")
    assert (instant(first), instant(last)) == (expected[0][0], expected[-1][0])


def test_iso_times_without_offset_are_read_in_the_timezone(api: Api) -> None:
    ds = new_datastream(api)
    body = ("t,v\n"
            "2024-01-10T12:00:00,1\n"  # winter, no offset: Berlin is UTC+1
            "2024-07-10T12:00:00,2\n"  # summer: UTC+2
            "2024-07-10T12:00:00Z,3\n"  # an explicit offset wins over the zone
            "2024-07-10T12:00:00-02:00,4\n")
    response = post_csv(api.client, body, datastream=ds, timeColumn="t", valueColumn="v",
                        timezone="Europe/Berlin")
    assert response.status_code == 201, response.text
    _, obs = observations(api, ds)
    assert [(instant(o["phenomenonTime"]), o["result"]) for o in obs] == [
        (utc(2024, 1, 10, 11), 1), (utc(2024, 7, 10, 10), 2), (utc(2024, 7, 10, 12), 3),
        (utc(2024, 7, 10, 14), 4),
    ]


def test_second_import_into_the_same_days(api: Api) -> None:
    """A second file for days the first one filled (on "archived", days already packed
    into the archive) interleaves with the first."""
    ds = new_datastream(api)
    first = "t,v\n2024-03-01T00:00:00Z,0\n2024-03-01T00:20:00Z,20\n2024-03-02T00:40:00Z,40\n"
    second = "t,v\n2024-03-01T00:10:00Z,10\n2024-03-02T00:30:00Z,30\n2024-03-02T00:50:00Z,50\n"
    for body in (first, second):
        response = post_csv(api.client, body, datastream=ds, timeColumn="t", valueColumn="v")
        assert response.status_code == 201, response.text
        assert response.json()["written"] == 3
    total, obs = observations(api, ds)
    assert total == 6
    assert [o["result"] for o in obs] == [0, 10, 20, 30, 40, 50]
    assert len({o["@iot.id"] for o in obs}) == 6
    late = api.ok(f"Datastreams({ds})/Observations",
                  **{"$filter": "phenomenonTime ge 2024-03-02T00:00:00Z", "$orderby": "result"})
    assert [o["result"] for o in late["value"]] == [30, 40, 50]
    stream = api.ok(f"Datastreams({ds})")
    begin, end = stream["phenomenonTime"].split("/")
    assert (instant(begin), instant(end)) == (utc(2024, 3, 1), utc(2024, 3, 2, 0, 50))


def test_line_numbers_count_lines_of_the_file(client: TestClient) -> None:
    """A quoted value over two lines and CRLF line ends do not shift the line numbers."""
    api = Api(client)
    ds = new_datastream(api)
    body = ('t,v\r\n'
            '2024-01-01T00:00:00Z,"Pegel\r\nüberflutet"\r\n'  # lines 2-3
            '2024-01-01T00:10:00Z,\r\n'  # 4: empty value
            '\r\n'  # 5: blank
            '2024-01-01T00:20:00Z,inf\r\n'  # 6
            '2024-01-01T00:30:00Z,3\r\n')  # 7
    response = post_csv(client, body, datastream=ds, timeColumn="t", valueColumn="v",
                        skipBadRows="true")
    assert response.status_code == 201, response.text
    report = response.json()
    assert (report["rows"], report["written"], report["badRows"]) == (4, 2, 2)
    assert [e["line"] for e in report["errors"]] == [4, 6]
    _, obs = observations(api, ds)
    assert [o["result"] for o in obs] == ["Pegel\r\nüberflutet", 3]


# -- 2. German layout ----------------------------------------------------------------------


GERMAN_FILE = (
    "\ufeffzeit;wert;bemerkung\r\n"
    "15.01.2024 08:00;12,5;Winter\r\n"
    "31.03.2024 01:59;-3,25;vor der Umstellung\r\n"
    "31.03.2024 03:00;7;nach der Umstellung\r\n"
    "15.07.2024 08:00;0,125;Sommer\r\n"
    "27.10.2024 03:00;1.5;nach der Rückstellung\r\n"
    "31.12.2024 23:30;\"Eis; gesperrt\";Silvester\r\n"
)
GERMAN_EXPECTED = [
    (utc(2024, 1, 15, 7, 0), 12.5),
    (utc(2024, 3, 31, 0, 59), -3.25),
    (utc(2024, 3, 31, 1, 0), 7),
    (utc(2024, 7, 15, 6, 0), 0.125),
    (utc(2024, 10, 27, 2, 0), 1.5),
    (utc(2024, 12, 31, 22, 30), "Eis; gesperrt"),
]
GERMAN_PARAMS = {"timeColumn": "zeit", "valueColumn": "wert", "delimiter": ";",
                 "timeFormat": "%d.%m.%Y %H:%M", "timezone": "Europe/Berlin"}


def test_http_import_german_layout(api: Api) -> None:
    ds = new_datastream(api)
    data = GERMAN_FILE.encode("utf-8")
    assert data.startswith(b"\xef\xbb\xbf")
    response = post_csv(api.client, data, datastream=ds, **GERMAN_PARAMS)
    assert response.status_code == 201, response.text
    assert response.json() == {"rows": 6, "written": 6, "badRows": 0, "errors": []}
    total, obs = observations(api, ds)
    assert total == 6
    assert [(instant(o["phenomenonTime"]), o["result"]) for o in obs] == GERMAN_EXPECTED
    assert type(obs[0]["result"]) is float and type(obs[2]["result"]) is int


def test_german_format_rejects_wrong_dates(client: TestClient) -> None:
    api = Api(client)
    ds = new_datastream(api)
    body = ("zeit;wert\n"
            "31.02.2024 10:00;1\n"  # 2: no such day
            "2024-02-01 10:00;2\n"  # 3: ISO, not the format
            "01.02.2024 10:00;3\n"  # 4: good
            "01.02.2024 25:00;4\n")  # 5: no such hour
    response = post_csv(client, body, datastream=ds, **GERMAN_PARAMS)
    body_json = assert_error(response, 422, "3 of 4 rows")
    assert [e["line"] for e in body_json["errors"]] == [2, 3, 5]
    assert all("%d.%m.%Y %H:%M" in e["message"] for e in body_json["errors"])
    assert count(api, ds) == 0


# -- 3. Bad rows ---------------------------------------------------------------------------


def test_bad_rows_reject_the_whole_file(api: Api) -> None:
    ds = new_datastream(api)
    response = post_csv(api.client, BAD_FILE, datastream=ds, timeColumn="t", valueColumn="v")
    body = assert_error(response, 422, "4 of 9 rows", "nothing was written")
    assert body["code"] == "unprocessable"
    errors = body["errors"]
    assert [e["line"] for e in errors] == BAD_LINES
    assert "yesterday noon" in errors[0]["message"]
    assert "empty" in errors[1]["message"]
    assert "2 fields" in errors[2]["message"] and "3" in errors[2]["message"]
    assert "nan" in errors[3]["message"] and "finite" in errors[3]["message"]
    assert count(api, ds) == 0


def test_bad_rows_skipped_on_request(api: Api) -> None:
    ds = new_datastream(api)
    response = post_csv(api.client, BAD_FILE, datastream=ds, timeColumn="t", valueColumn="v",
                        skipBadRows="true")
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["rows"], body["written"], body["badRows"]) == (9, 5, 4)
    assert [e["line"] for e in body["errors"]] == BAD_LINES
    total, obs = observations(api, ds)
    assert total == 5
    assert_good_rows_of_bad_file(obs)


def test_many_bad_rows_are_counted_but_only_the_first_listed(client: TestClient) -> None:
    api = Api(client)
    ds = new_datastream(api)
    lines = ["t,v"] + [f"2024-01-01T00:{i:02d}:00Z,{i}" if i % 2 == 0 else f"kaputt {i},{i}"
                       for i in range(60)]
    response = post_csv(client, "\n".join(lines), datastream=ds, timeColumn="t", valueColumn="v")
    body = assert_error(response, 422, "30 of 60 rows")
    assert [e["line"] for e in body["errors"]] == [i + 2 for i in range(1, 40, 2)]  # the first 20
    assert count(api, ds) == 0


# -- 4. Errors that change nothing ---------------------------------------------------------


GOOD_FILE = "t,v\n2024-02-01T00:00:00Z,1\n2024-02-01T00:10:00Z,2\n"


def test_request_errors_change_nothing(client: TestClient) -> None:
    api = Api(client)
    ds = new_datastream(api)
    params = {"datastream": ds, "timeColumn": "t", "valueColumn": "v"}

    assert_error(post_csv(client, GOOD_FILE, **{**params, "datastream": ds + 1000}), 404,
                 str(ds + 1000))
    body = assert_error(post_csv(client, GOOD_FILE), 400, "datastream", "timeColumn", "valueColumn")
    assert body["code"] == "bad_request"
    assert_error(post_csv(client, GOOD_FILE, datastream=ds, timeColumn="t"), 400, "valueColumn")
    assert_error(post_csv(client, GOOD_FILE, **{**params, "datastream": "sieben"}), 400, "sieben")
    assert_error(post_csv(client, GOOD_FILE, **{**params, "valueColumn": "wert"}), 400,
                 "'wert'", "'t'", "'v'")
    assert_error(post_csv(client, "zeit;wert\n2024-02-01T00:00:00Z;1\n", **params), 400,
                 "'zeit;wert'")
    assert_error(post_csv(client, "t,v\n2024-02-01T00:00:00Z,12\xb0C\n".encode("latin-1"), **params),
                 400, "UTF-8")
    assert_error(post_csv(client, GOOD_FILE, **params, skipBadRows="maybe"), 400, "maybe")
    assert_error(post_csv(client, GOOD_FILE, **params, timezone="Europe/Bärlin"), 400,
                 "Europe/Bärlin")
    assert_error(post_csv(client, GOOD_FILE, **params, delimiter=";;"), 400, "delimiter")
    assert_error(post_csv(client, b"", **params), 400, "empty")
    assert_error(post_csv(client, GOOD_FILE, prefix="/t/nirgendwo", **params), 404, "nirgendwo")
    assert count(api, ds) == 0
    # The same request, put right, works.
    response = post_csv(client, GOOD_FILE, **params)
    assert response.status_code == 201, response.text
    assert count(api, ds) == 2


def test_body_over_max_import_bytes(settings: Settings) -> None:
    small = dataclasses.replace(settings, max_import_bytes=100)
    with TestClient(make_app(small), raise_server_exceptions=False) as client:
        api = Api(client)
        ds = new_datastream(api)
        params = {"datastream": ds, "timeColumn": "t", "valueColumn": "v"}
        big = "t,v\n" + "".join(f"2024-02-01T00:{i:02d}:00Z,{i}\n" for i in range(10))
        assert len(big.encode()) > 100
        body = assert_error(post_csv(client, big, **params), 413, "100")
        assert body["code"] == "payload_too_large"
        # Without a Content-Length (chunked), the limit holds as the body streams in.
        chunks = iter([big[:60].encode(), big[60:].encode()])
        response = client.post(IMPORT, params=params, content=chunks)
        assert_error(response, 413, "100")
        assert count(api, ds) == 0
        assert len(GOOD_FILE.encode()) <= 100
        response = post_csv(client, GOOD_FILE, **params)
        assert response.status_code == 201, response.text
        assert count(api, ds) == 2


def test_timezone_that_is_no_zone_file(client: TestClient) -> None:
    api = Api(client)
    ds = new_datastream(api)
    params = {"datastream": ds, "timeColumn": "t", "valueColumn": "v"}
    assert_error(post_csv(client, GOOD_FILE, **params, timezone="Europe"), 400, "'Europe'")
    assert_error(post_csv(client, GOOD_FILE, **params, timezone="Zone" * 100), 400, "time zone")
    assert count(api, ds) == 0


def test_time_before_year_one_in_utc_is_a_bad_row(client: TestClient) -> None:
    api = Api(client)
    ds = new_datastream(api)
    body = "zeit;wert\n01.01.2024 10:00;1\n01.01.0001 00:30;2\n02.01.2024 10:00;3\n"
    response = post_csv(client, body, datastream=ds, **GERMAN_PARAMS)
    errors = assert_error(response, 422, "1 of 3 rows")["errors"]
    assert [e["line"] for e in errors] == [3]
    response = post_csv(client, body, datastream=ds, skipBadRows="true", **GERMAN_PARAMS)
    assert response.status_code == 201, response.text
    assert count(api, ds) == 2


def test_integer_beyond_64_bits(client: TestClient) -> None:
    api = Api(client)
    ds = new_datastream(api)
    body = "t,v\n2024-01-01T00:00:00Z,1\n2024-01-01T00:10:00Z,100000000000000000000\n"
    response = post_csv(client, body, datastream=ds, timeColumn="t", valueColumn="v")
    if response.status_code == 422:  # reported as a bad row: acceptable too
        assert [e["line"] for e in response.json()["errors"]] == [3]
        assert count(api, ds) == 0
        return
    assert response.status_code == 201, response.text
    _, obs = observations(api, ds)
    assert [o["result"] for o in obs] == [1, 1e20]


def test_time_format_with_a_repeated_directive(client: TestClient) -> None:
    api = Api(client)
    ds = new_datastream(api)
    response = post_csv(client, "t,v\n10:00 10,1\n", datastream=ds, timeColumn="t",
                        valueColumn="v", timeFormat="%H:%M %H")
    assert response.status_code in (400, 422), response.text
    assert set(response.json()) >= ERROR_KEYS
    assert count(api, ds) == 0


# -- smaller and larger batches ------------------------------------------------------------


def test_one_row_and_a_chunk_and_one(api: Api) -> None:
    """One row, and CHUNK + 1 rows (the last chunk holds one row)."""
    from quartier.importer import CHUNK

    ds = new_datastream(api)
    response = post_csv(api.client, "t,v\n2020-01-01T00:00:00Z,42\n", datastream=ds,
                        timeColumn="t", valueColumn="v")
    assert response.status_code == 201, response.text
    assert response.json()["written"] == 1
    start = utc(2021, 1, 1)
    rows = [f"{(start + timedelta(minutes=i)).strftime('%Y-%m-%dT%H:%M:%SZ')},{i}"
            for i in range(CHUNK + 1)]
    response = post_csv(api.client, "t,v\n" + "\n".join(rows) + "\n", datastream=ds,
                        timeColumn="t", valueColumn="v")
    assert response.status_code == 201, response.text
    assert response.json()["written"] == CHUNK + 1
    assert count(api, ds) == CHUNK + 2
    newest = api.ok(f"Datastreams({ds})/Observations",
                    **{"$top": 2, "$orderby": "phenomenonTime desc"})["value"]
    assert [o["result"] for o in newest] == [CHUNK, CHUNK - 1]
    assert instant(newest[0]["phenomenonTime"]) == start + timedelta(minutes=CHUNK)
    oldest = api.ok(f"Datastreams({ds})/Observations",
                    **{"$top": 1, "$orderby": "phenomenonTime asc"})["value"]
    assert oldest[0]["result"] == 42
    stream = api.ok(f"Datastreams({ds})")
    first, last = stream["phenomenonTime"].split("/")
    assert (instant(first), instant(last)) == (utc(2020, 1, 1), start + timedelta(minutes=CHUNK))


# -- 5. Tenants ----------------------------------------------------------------------------


def test_tenant_import(settings: Settings, client: TestClient) -> None:
    create_tenant(settings, "nord")
    town, nord = Api(client), Api(client, "/t/nord/v1.1")
    town_ds = new_datastream(town, "Stadt")
    nord_ds = new_datastream(nord, "Nord")
    params = {"timeColumn": "t", "valueColumn": "v"}

    response = post_csv(client, GOOD_FILE, prefix="/t/nord", datastream=nord_ds, **params)
    assert response.status_code == 201, response.text
    assert response.json()["written"] == 2
    _, obs = observations(nord, nord_ds)
    assert [o["result"] for o in obs] == [1, 2]
    assert town.ok("Observations")["value"] == []

    # Another tenant's Datastream is not found, either way round.
    assert_error(post_csv(client, GOOD_FILE, prefix="/t/nord", datastream=town_ds, **params),
                 404, str(town_ds))
    assert_error(post_csv(client, GOOD_FILE, datastream=nord_ds, **params), 404, str(nord_ds))
    assert count(nord, nord_ds) == 2
    assert count(town, town_ds) == 0
    assert town.ok("Observations")["value"] == []


# -- 6. The command line -------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def cli_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    return backend_settings(request, str(request.param), tmp_path / "data")


def datastream_in_store(settings: Settings) -> int:
    """A new Datastream, made through an app that is closed again before returning."""
    with TestClient(make_app(settings)) as client:
        return new_datastream(Api(client))


def read_back(settings: Settings, ds: int) -> list[dict[str, Any]]:
    with TestClient(make_app(settings)) as client:
        total, obs = observations(Api(client), ds)
    assert total == len(obs)
    return obs


def run_cli(settings: Settings, file: str, ds: int, *extra: str, stdin: bytes | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "quartier", "import", "csv", file, "--datastream", str(ds),
           "--time-column", "t", "--value-column", "v", "--data-dir", str(settings.data_dir),
           *extra]
    if settings.database:
        cmd += ["--database", settings.database]
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUARTIER_")}
    result = subprocess.run(cmd, input=stdin, capture_output=True, timeout=timeout, env=env,
                            check=False)
    return subprocess.CompletedProcess(result.args, result.returncode,
                                       result.stdout.decode("utf-8"), result.stderr.decode("utf-8"))


def test_cli_good_file(cli_settings: Settings, tmp_path: Path) -> None:
    ds = datastream_in_store(cli_settings)
    path = tmp_path / "pegel.csv"
    path.write_text(GOOD_FILE + '2024-02-01T00:20:00+01:00,"2,5"\n', encoding="utf-8")
    done = run_cli(cli_settings, str(path), ds)
    assert done.returncode == 0, done.stderr
    assert f"imported 3 Observations into Datastream {ds}" in done.stdout
    assert "skipped" not in done.stdout
    obs = read_back(cli_settings, ds)
    assert [(instant(o["phenomenonTime"]), o["result"]) for o in obs] == [
        (utc(2024, 1, 31, 23, 20), 2.5), (utc(2024, 2, 1), 1), (utc(2024, 2, 1, 0, 10), 2)]


def test_cli_bad_file_writes_nothing(cli_settings: Settings, tmp_path: Path) -> None:
    ds = datastream_in_store(cli_settings)
    path = tmp_path / "kaputt.csv"
    path.write_text(BAD_FILE, encoding="utf-8")
    done = run_cli(cli_settings, str(path), ds)
    assert done.returncode == 1, (done.stdout, done.stderr)
    located = [line for line in done.stderr.splitlines() if line.startswith(f"{path}:")]
    assert [int(line.split(":")[1]) for line in located] == BAD_LINES
    assert "yesterday noon" in located[0] and "nan" in located[3]
    assert "4 of 9 rows are bad; nothing was written" in done.stderr
    assert "imported" not in done.stdout
    assert read_back(cli_settings, ds) == []

    skipped = run_cli(cli_settings, str(path), ds, "--skip-bad-rows")
    assert skipped.returncode == 0, skipped.stderr
    assert f"imported 5 Observations into Datastream {ds}, skipped 4 bad rows" in skipped.stdout
    assert len([line for line in skipped.stderr.splitlines() if line.startswith(f"{path}:")]) == 4
    assert_good_rows_of_bad_file(read_back(cli_settings, ds))


def test_cli_reads_stdin(cli_settings: Settings) -> None:
    ds = datastream_in_store(cli_settings)
    data = GERMAN_FILE.replace("zeit;wert;", "t;v;").encode("utf-8")
    done = run_cli(cli_settings, "-", ds, "--delimiter", ";", "--time-format", "%d.%m.%Y %H:%M",
                   "--timezone", "Europe/Berlin", stdin=data)
    assert done.returncode == 0, done.stderr
    assert f"imported 6 Observations into Datastream {ds}" in done.stdout
    obs = read_back(cli_settings, ds)
    assert [(instant(o["phenomenonTime"]), o["result"]) for o in obs] == GERMAN_EXPECTED


def test_cli_errors(cli_settings: Settings, tmp_path: Path) -> None:
    ds = datastream_in_store(cli_settings)
    path = tmp_path / "pegel.csv"
    path.write_text(GOOD_FILE, encoding="utf-8")
    unknown = run_cli(cli_settings, str(path), ds + 1000)
    assert unknown.returncode == 2
    assert f"no Datastream with @iot.id {ds + 1000}" in unknown.stderr
    zone = run_cli(cli_settings, str(path), ds, "--timezone", "Mars/Olympus")
    assert zone.returncode == 2 and "Mars/Olympus" in zone.stderr
    latin = tmp_path / "latin.csv"
    latin.write_bytes("t,v\n2024-02-01T00:00:00Z,12\xb0C\n".encode("latin-1"))
    not_utf8 = run_cli(cli_settings, str(latin), ds)
    assert not_utf8.returncode == 2 and "UTF-8" in not_utf8.stderr
    assert "Traceback" not in unknown.stderr + zone.stderr + not_utf8.stderr
    assert read_back(cli_settings, ds) == []


# -- 7. A larger file on PostgreSQL --------------------------------------------------------


def test_cli_100000_rows_on_postgresql(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    settings = backend_settings(request, "postgresql", tmp_path / "data")
    ds = datastream_in_store(settings)
    rows = 100_000
    start = utc(2015, 1, 1)
    path = tmp_path / "zehn-jahre.csv"
    with path.open("w", encoding="utf-8") as out:
        out.write("t,v\n")
        for i in range(rows):
            when = start + timedelta(minutes=15 * i)
            out.write(f"{when.strftime('%Y-%m-%dT%H:%M:%SZ')},{i % 1000}.5\n")
    done = run_cli(settings, str(path), ds, timeout=600)
    assert done.returncode == 0, done.stderr
    assert f"imported {rows} Observations into Datastream {ds}" in done.stdout

    async def stats() -> Any:
        conn = await asyncpg.connect(settings.database)
        try:
            return await conn.fetchrow(
                "SELECT count(*) AS n, count(DISTINCT id) AS ids, min(phenomenon_time_start) AS first,"
                " max(phenomenon_time_start) AS last, sum(result_number) AS total"
                " FROM observations WHERE datastream_id = $1", ds)
        finally:
            await conn.close()

    found = asyncio.run(stats())
    assert (found["n"], found["ids"]) == (rows, rows)
    assert found["first"] == start
    assert found["last"] == start + timedelta(minutes=15 * (rows - 1))
    assert found["total"] == sum(i % 1000 + 0.5 for i in range(rows))
    with TestClient(make_app(settings)) as client:
        api = Api(client)
        assert count(api, ds) == rows
        newest = api.ok(f"Datastreams({ds})/Observations",
                        **{"$top": 1, "$orderby": "phenomenonTime desc"})["value"][0]
        assert newest["result"] == (rows - 1) % 1000 + 0.5
