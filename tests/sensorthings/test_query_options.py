"""The query options implemented so far: $top, $skip, $count, $orderby, $select, paging."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from conftest import Api, TestClient, full_thing_body, make_app
from quartier.settings import Settings


def _observations(api: Api, count: int) -> int:
    thing = api.create("Things", full_thing_body())
    ds = api.ok(f"Things({thing})/Datastreams")["value"][0]["@iot.id"]
    for i in range(count):
        api.create(f"Datastreams({ds})/Observations", {
            "result": (i * 7) % count, "phenomenonTime": f"2026-11-01T{i:02d}:00:00Z",
        })
    return int(ds)


def test_top_skip_count(api: Api) -> None:
    ds = _observations(api, 6)
    page = api.ok(f"Datastreams({ds})/Observations", **{"$top": 2, "$skip": 1, "$count": "true"})
    assert page["@iot.count"] == 6
    assert [o["phenomenonTime"][11:13] for o in page["value"]] == ["01", "02"]


def test_next_link_exactly_when_more(api: Api) -> None:
    ds = _observations(api, 5)
    seen: list[Any] = []
    url: str | None = api.url(f"Datastreams({ds})/Observations?$top=2&$count=true")
    pages = 0
    while url is not None and pages < 10:
        body = api.client.get(url).json()
        assert body["@iot.count"] == 5
        seen.extend(o["@iot.id"] for o in body["value"])
        url = body.get("@iot.nextLink")
        pages += 1
    assert pages == 3
    assert len(seen) == len(set(seen)) == 5
    exact = api.ok(f"Datastreams({ds})/Observations", **{"$top": 5})
    assert "@iot.nextLink" not in exact


def test_orderby_several_and_stable(api: Api) -> None:
    ds = _observations(api, 6)
    body = api.ok(f"Datastreams({ds})/Observations", **{"$orderby": "result desc,phenomenonTime"})
    results = [o["result"] for o in body["value"]]
    assert results == sorted(results, reverse=True)
    by_time = api.ok(f"Datastreams({ds})/Observations", **{"$orderby": "phenomenonTime desc",
                                                           "$top": 1})
    assert by_time["value"][0]["phenomenonTime"] == "2026-11-01T05:00:00Z"


def test_select(api: Api) -> None:
    _observations(api, 1)
    thing = api.ok("Things", **{"$select": "name,Datastreams"})["value"][0]
    assert set(thing) == {"name", "Datastreams@iot.navigationLink"}
    with_id = api.ok("Things", **{"$select": "id,name"})["value"][0]
    assert set(with_id) == {"@iot.id", "@iot.selfLink", "name"}


@pytest.fixture
def small_pages(settings: Settings) -> Iterator[Api]:
    tuned = Settings.validated({
        "database": settings.database, "data_dir": settings.data_dir,
        "default_top": 2, "max_top": 3,
    })
    with TestClient(make_app(tuned)) as test_client:
        yield Api(test_client)


def test_default_and_max_page_size(small_pages: Api) -> None:
    ds = _observations(small_pages, 5)
    assert len(small_pages.ok(f"Datastreams({ds})/Observations")["value"]) == 2
    largest = small_pages.ok(f"Datastreams({ds})/Observations", **{"$top": 3})
    assert len(largest["value"]) == 3
    assert "$top=3" in largest["@iot.nextLink"]
    too_many = small_pages.get(f"Datastreams({ds})/Observations", **{"$top": 4})
    assert too_many.status_code == 400
    assert "at most 3" in too_many.json()["message"]


def test_times_before_the_year_1000_order_and_compare(api: Api) -> None:
    """Early years keep four digits wherever times are stored or compared (SQLite keeps
    them as text, where '900-…' would sort after '2026-…')."""
    thing = api.create("Things", full_thing_body("Alt"))
    datastream = api.ok(f"Things({thing})/Datastreams")["value"][0]["@iot.id"]
    for when, result in (("0900-06-01T00:00:00Z", 1), ("2026-06-01T00:00:00Z", 2)):
        api.create(f"Datastreams({datastream})/Observations", {"phenomenonTime": when, "result": result})

    def results(expression: str) -> list[Any]:
        body = api.ok("Observations", **{"$filter": expression, "$orderby": "phenomenonTime"})
        return [o["result"] for o in body["value"]]

    assert results("phenomenonTime lt 1000-01-01T00:00:00Z") == [1]
    assert results("phenomenonTime gt 2000-01-01T00:00:00Z") == [2]
    assert results("phenomenonTime gt mindatetime()") == [1, 2]
    assert results("year(phenomenonTime) eq 900") == [1]
    assert results("phenomenonTime add duration'P1000Y' lt 2000-01-01T00:00:00Z") == [1]
    early = api.ok("Observations", **{"$filter": "result eq 1"})["value"][0]
    assert early["phenomenonTime"] == "0900-06-01T00:00:00Z"
