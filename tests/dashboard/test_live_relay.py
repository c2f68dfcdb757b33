"""Several worker processes on one PostgreSQL database: a page listening to one worker
hears the values and moves that another worker committed.

Two apps on one database, each served by its own uvicorn and event loop, stand in for
two workers of ``quartier serve --workers 2``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx2 as httpx
import orjson
import pytest

from conftest import admin_key, backend_settings, full_thing_body, serving, sse_events
from quartier.app import build_app
from quartier.relay import PAYLOAD_MAX, _pieces
from quartier.settings import Settings


def _worker(settings: Settings) -> Settings:
    return Settings.validated({"database": settings.database, "data_dir": settings.data_dir,
                               "archive_after_days": 0, "workers": 2})


@pytest.fixture
def two_workers(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str, str]]:
    settings = _worker(backend_settings(request, "postgresql", tmp_path))
    app = build_app(settings)
    with serving(app) as first, serving(build_app(settings)) as second:
        yield first, second, admin_key(app)


def _until(events: Iterator[dict[str, Any]], done: Any) -> list[dict[str, Any]]:
    seen = []
    for event in events:
        seen.append(event)
        if done(seen):
            return seen
    raise AssertionError(f"the stream ended early: {seen}")


def test_a_page_hears_what_another_worker_committed(two_workers: tuple[str, str, str]) -> None:
    auth = {"Authorization": f"Bearer {two_workers[2]}"}
    with httpx.Client(base_url=two_workers[0], timeout=20) as listening, \
            httpx.Client(base_url=two_workers[1], timeout=20, headers=auth) as writing:
        _listen_while_another_writes(listening, writing)


def _listen_while_another_writes(listening: httpx.Client, writing: httpx.Client) -> None:
    response = writing.post("/v1.1/Things", json=full_thing_body())
    thing = int(response.headers["location"].rsplit("(", 1)[1].rstrip(")"))
    datastream = writing.get(f"/v1.1/Things({thing})/Datastreams").json()["value"][0]["@iot.id"]

    written: list[int] = []
    stop = threading.Event()

    def write(stream: Any) -> None:
        # The listening worker tells the others that it listens as it gets the page;
        # until its word arrives the writer's values reach no one, so the writer keeps on.
        try:
            keep_writing()
        finally:
            if not stop.is_set():  # nothing heard, or a write failed: end the stream
                stream.close()

    def keep_writing() -> None:
        now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        result = 0
        while not stop.is_set() and result < 200:
            result += 1
            assert writing.post(f"/v1.1/Datastreams({datastream})/Observations",
                                json={"phenomenonTime": now, "result": result}).status_code == 201
            written.append(result)
            place = {"name": f"Stelle {result}", "description": "unterwegs",
                     "encodingType": "application/geo+json", "Things": [{"@iot.id": thing}],
                     "location": {"type": "Point", "coordinates": [9.5 + result / 1000, 51.3]}}
            moved = writing.post("/v1.1/Locations", json=place)
            assert moved.status_code == 201, moved.text
            stop.wait(0.1)

    with listening.stream("GET", "/api/live") as stream:
        events = sse_events(stream)
        _until(events, lambda seen: seen[-1]["event"] == "hello")
        writer = threading.Thread(target=write, args=(stream,))
        writer.start()
        try:
            seen = _until(events, lambda seen: {"values", "moved"} <= {e["event"] for e in seen})
        finally:
            stop.set()
            writer.join()
    values = [item for e in seen if e["event"] == "values" for item in e["data"]]
    assert values and all(item[0] == datastream for item in values)
    assert {item[2] for item in values} <= set(written)
    moves = [item for e in seen if e["event"] == "moved" for item in e["data"]]
    assert moves and moves[0][0] == thing and moves[0][1][1] == pytest.approx(51.3)
    # Nothing was told twice: each value came from the one worker that committed it.
    assert len(values) == len({item[2] for item in values})


def test_long_messages_go_in_pieces_that_fit_a_signal() -> None:
    items = [[n, "2026-12-05T12:00:00Z", "x" * 50] for n in range(1000)]
    pieces = list(_pieces(items))
    assert len(pieces) > 1
    assert [item for piece in pieces for item in piece] == items
    assert all(len(orjson.dumps(piece)) <= PAYLOAD_MAX + 2 for piece in pieces)
    # One value too big for any signal is left to the page's next reconnect.
    assert list(_pieces([[1, "t", "y" * (PAYLOAD_MAX + 1)], [2, "t", 0]])) == [[[2, "t", 0]]]
