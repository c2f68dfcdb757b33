"""Rules and alerts through the API, on both backends: each rule type, the alert lifecycle,
validation, and what survives a restart. The engine works beside the writers, so the tests
wait (never longer than TIMEOUT) for what it does."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from conftest import (
    Api,
    TestClient,
    datastream_body,
    location_body,
    make_app,
    observed_property_body,
    sensor_body,
    thing_body,
)
from quartier.model.values import JSON
from quartier.settings import Settings

TIMEOUT = 20.0
BACKENDS_HERE = ["sqlite", "postgresql"]


@pytest.fixture(params=BACKENDS_HERE)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(make_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client


def ago(minutes: float) -> str:
    return (datetime.now(UTC) - timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


def wait_for(check: Callable[[], Any], what: str) -> Any:
    deadline = time.monotonic() + TIMEOUT
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.05)


def gauge(api: Api, name: str = "Pegel Mühlbach", stages: Any = None,
          properties: dict[str, Any] | None = None) -> int:
    """A Thing with one water-level Datastream; the Datastream's id."""
    body = thing_body(name)
    if properties:
        body["properties"] = properties
    stream = datastream_body("Wasserstand")
    if stages is not None:
        stream["properties"] = {"stages": stages}
    found = api.ok("ObservedProperties", **{"$filter": "name eq 'Water level'"})["value"]
    stream["ObservedProperty"] = ({"@iot.id": found[0]["@iot.id"]} if found
                                  else observed_property_body())
    stream["Sensor"] = sensor_body()
    body["Datastreams"] = [stream]
    thing = api.create("Things", body)
    return int(api.ok(f"Things({thing})/Datastreams")["value"][0]["@iot.id"])


def post_values(api: Api, datastream: int, values: list[tuple[float, float]]) -> None:
    """(minutes ago, value) pairs, oldest first, one POST each (as a device sends)."""
    for minutes, value in values:
        response = api.post(f"Datastreams({datastream})/Observations",
                            {"phenomenonTime": ago(minutes), "result": value})
        assert response.status_code == 201, response.text


def engine_of(client: TestClient) -> Any:
    app = client.app
    while not hasattr(app, "state") or not hasattr(app.state, "rules"):
        app = app.app  # through the archiving wrapper
    return app.state.rules


def make_rule(client: TestClient, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/api/rules", json=body)
    assert response.status_code == 201, response.text
    assert client.portal is not None
    client.portal.call(engine_of(client).refresh)
    return dict(response.json())


def alerts(client: TestClient, **params: Any) -> list[dict[str, Any]]:
    response = client.get("/api/alerts", params=params)
    assert response.status_code == 200, response.text
    return list(response.json()["value"])


def history(client: TestClient, alert_id: int) -> list[str]:
    return [e["kind"] for e in client.get(f"/api/alerts/{alert_id}").json()["history"]]


# -- thresholds ------------------------------------------------------------------------


def test_a_value_wobbling_around_the_line_gives_one_alert(client: TestClient, api: Api) -> None:
    ds = gauge(api)
    make_rule(client, {"name": "hoch", "target": {"datastream": ds}, "severity": "severe",
                       "condition": {"type": "threshold", "above": 100, "hysteresis": 3}})
    post_values(api, ds, [(50, 90), (45, 101), (40, 99), (35, 100.5), (30, 98.5), (25, 102),
                          (20, 99.2)])
    found = wait_for(lambda: alerts(client), "the alert")
    time.sleep(0.5)  # anything more would show by now
    found = alerts(client)
    assert len(found) == 1
    alert = found[0]
    assert alert["status"] == "open" and alert["severity"] == "severe"
    assert alert["peak"] == 102 and alert["value"] == 99.2
    assert "Pegel Mühlbach" in alert["message"] and "cm" in alert["message"]
    post_values(api, ds, [(15, 96.5)])  # below the line minus the hysteresis: cleared
    wait_for(lambda: alerts(client, status="resolved"), "the all-clear")
    assert history(client, alert["id"]) == ["opened", "resolved"]
    assert client.get(f"/api/alerts/{alert['id']}").json()["resolvedBy"] is None


def test_a_level_must_hold_for_its_duration(client: TestClient, api: Api) -> None:
    ds = gauge(api)
    make_rule(client, {"name": "dauer", "target": {"datastream": ds},
                       "condition": {"type": "threshold", "above": 50, "for": "PT20M"}})
    # The engine's "now" held back to just after these values, so that only values move
    # the level here (the clock's part is the next test).
    engine_of(client).clock = lambda: time.time() - 29 * 60
    post_values(api, ds, [(60, 55), (50, 40), (45, 55), (30, 56)])  # 15 minutes above, then 5 so far
    wait_for(lambda: _pending(client), "the pending level")
    _check_held(client)
    assert alerts(client) == []
    post_values(api, ds, [(20, 57)])  # 25 minutes above since (45)
    wait_for(lambda: alerts(client), "the alert after 20 minutes")


def test_a_level_that_held_for_its_duration_opens_its_alert_on_the_clock(
    client: TestClient, api: Api,
) -> None:
    """The last value stands until the next one: a gauge that reports every 15 minutes
    raises a 20-minute alert once 20 minutes have passed, not with its next report."""
    ds, other = gauge(api), gauge(api, "Pegel zwei")
    make_rule(client, {"name": "dauer", "target": {"datastream": ds},
                       "condition": {"type": "threshold", "above": 50, "for": "PT20M"}})
    make_rule(client, {"name": "dauer-zwei", "target": {"datastream": other},
                       "condition": {"type": "threshold", "above": 50, "for": "PT20M"}})
    post_values(api, ds, [(15, 55), (12, 57)])  # above for 15 minutes so far
    post_values(api, other, [(15, 55), (10, 40), (8, 58)])  # cleared, above again 8 minutes
    wait_for(lambda: len(_pending(client)) == 2, "both pending levels")
    _check_held(client)
    assert alerts(client) == []
    _check_held(client, ahead=6)  # 21 minutes after the first high value of the first gauge
    found = alerts(client)
    assert [(a["rule"], a["level"], a["value"]) for a in found] == [("dauer", 1, 57)]
    assert history(client, found[0]["id"]) == ["opened"]
    assert len(_pending(client)) == 1  # the second gauge's: 14 minutes only
    _check_held(client, ahead=6)  # a second look changes nothing
    assert len(alerts(client)) == 1
    # A last value older than the engine's hour of news raises nothing on the clock.
    _check_held(client, ahead=53)  # the second gauge's last value 61 minutes ago
    assert len(alerts(client)) == 1 and len(_pending(client)) == 1
    _check_held(client, ahead=51)  # 59 minutes ago: still news
    assert sorted(a["rule"] for a in alerts(client)) == ["dauer", "dauer-zwei"]
    engine_of(client).clock = time.time
    # The next value goes on from the level the clock reached: no second alert.
    post_values(api, ds, [(1, 59)])
    wait_for(lambda: [a["value"] for a in alerts(client) if a["rule"] == "dauer"] == [59],
             "the alert's new value")
    assert len(alerts(client)) == 2 and history(client, found[0]["id"]) == ["opened"]


def _pending(client: TestClient) -> list[Any]:
    """The rule states that wait for a level to hold."""
    engine = engine_of(client)

    async def read() -> list[Any]:
        async with engine.store.reader() as conn:
            rows = await conn.fetch("SELECT state FROM rule_states")
        return [engine.store.dialect.decode(JSON, r[0]) for r in rows]

    assert client.portal is not None
    return [s for s in client.portal.call(read) if s.get("pending")]


def _check_held(client: TestClient, ahead: float = 0.0) -> None:
    """One look of the engine's clock at the pending levels, ``ahead`` minutes from now."""
    engine = engine_of(client)
    if ahead:
        engine.clock = lambda: time.time() + ahead * 60
    assert client.portal is not None
    client.portal.call(engine.check_held)


def test_reporting_levels_escalate_one_alert_and_ease_back(client: TestClient, api: Api) -> None:
    ds = gauge(api)
    make_rule(client, {
        "name": "stufen", "target": {"datastream": ds},
        "condition": {"type": "threshold", "above": [185, 230, 270, 320], "hysteresis": 5},
        "levels": [{"name": f"Meldestufe {i}", "severity": s}
                   for i, s in enumerate(["minor", "moderate", "severe", "extreme"], 1)]})
    post_values(api, ds, [(58, 150), (55, 190), (50, 240), (45, 280), (40, 290)])
    alert = wait_for(lambda: [a for a in alerts(client) if a["level"] == 3], "Meldestufe 3")[0]
    assert alert["levelName"] == "Meldestufe 3" and alert["severity"] == "severe"
    # Rising by about 10 cm in 5 minutes, Meldestufe 4 (320) would come in about 15 minutes.
    estimate = alert["estimate"]
    assert estimate["kind"] == "estimate" and estimate["level"] == 4
    assert estimate["levelName"] == "Meldestufe 4" and estimate["ratePerHour"] > 0
    post_values(api, ds, [(35, 268), (30, 262), (25, 220), (20, 170)])
    wait_for(lambda: alerts(client, status="resolved"), "the all-clear")
    assert history(client, alert["id"]) == ["opened", "escalated", "escalated", "deescalated",
                                            "deescalated", "resolved"]
    assert len(alerts(client)) == 1
    assert alerts(client)[0]["peak"] == 290


def test_a_threshold_below(client: TestClient, api: Api) -> None:
    ds = gauge(api)
    make_rule(client, {"name": "chlor", "target": {"datastream": ds},
                       "condition": {"type": "threshold", "below": 0.1}})
    post_values(api, ds, [(10, 0.2), (5, 0.08)])
    assert wait_for(lambda: alerts(client), "the alert")[0]["value"] == 0.08


# -- other rule types ------------------------------------------------------------------


def test_rate_of_rise(client: TestClient, api: Api) -> None:
    ds = gauge(api)
    make_rule(client, {"name": "anstieg", "target": {"datastream": ds},
                       "condition": {"type": "rate", "rise": 20, "within": "PT30M"}})
    post_values(api, ds, [(120, 100), (90, 110), (60, 118), (45, 126)])  # slow: 8 in 15 min
    time.sleep(0.5)
    assert alerts(client) == []
    post_values(api, ds, [(30, 130), (20, 152)])  # 22 in 10 minutes
    wait_for(lambda: alerts(client), "the rate alert")


def test_all_of_two_conditions(client: TestClient, api: Api) -> None:
    ds = gauge(api)
    make_rule(client, {"name": "beides", "target": {"datastream": ds},
                       "condition": {"type": "all", "conditions": [
                           {"type": "threshold", "above": 100},
                           {"type": "rate", "rise": 10, "within": "PT1H"}]}})
    post_values(api, ds, [(50, 150), (40, 151)])  # high, but steady
    time.sleep(0.5)
    assert alerts(client) == []
    post_values(api, ds, [(30, 165)])
    wait_for(lambda: alerts(client), "the alert when both hold")


def test_the_rule_targets_every_gauge_with_its_own_levels(client: TestClient, api: Api) -> None:
    low = gauge(api, "Pegel Erlenbach", stages={"1": 70, "2": 90, "3": 110, "4": 135},
                properties={"district": "Nord"})
    high = gauge(api, "Pegel Lind", stages=[185, 230, 270, 320], properties={"district": "Süd"})
    other = gauge(api, "Pegel ohne Stufen", properties={"district": "Nord"})
    response = client.post("/api/rules/templates/flood-warning", json={"name": "hochwasser"})
    assert response.status_code == 201, response.text
    assert [r["name"] for r in response.json()["value"]] == ["hochwasser", "hochwasser-anstieg"]
    client.portal.call(engine_of(client).refresh)  # type: ignore[union-attr]
    post_values(api, low, [(30, 95), (20, 96)])  # Meldestufe 2 at the creek
    post_values(api, high, [(30, 150), (20, 151)])  # nothing at the river
    post_values(api, other, [(30, 500), (20, 500)])  # no levels: not watched
    found = wait_for(lambda: alerts(client), "the creek's alert")
    time.sleep(0.3)
    found = [a for a in alerts(client) if a["rule"] == "hochwasser"]
    assert [(a["datastreamId"], a["levelName"]) for a in found] == [(low, "Meldestufe 2")]


def test_staleness(client: TestClient, api: Api) -> None:
    ds = gauge(api)
    quiet = gauge(api, "Pegel stumm")
    make_rule(client, {"name": "still", "target": {"observedProperty": {"name": "Water level"}},
                       "condition": {"type": "stale", "after": "PT5M"}})
    post_values(api, ds, [(2, 100)])
    post_values(api, quiet, [(30, 100)])
    engine = engine_of(client)
    client.portal.call(engine.check_stale)  # type: ignore[union-attr]
    found = alerts(client)
    assert [a["datastreamId"] for a in found] == [quiet]
    client.portal.call(engine.check_stale)  # type: ignore[union-attr]
    assert len(alerts(client)) == 1  # not twice
    post_values(api, quiet, [(0, 101)])
    client.portal.call(engine.check_stale)  # type: ignore[union-attr]
    assert alerts(client)[0]["status"] == "resolved"


def test_geofence_leave_and_come_back(client: TestClient, api: Api) -> None:
    inside = {"type": "Point", "coordinates": [8.94, 50.41]}
    outside = {"type": "Point", "coordinates": [9.20, 50.41]}
    body = thing_body("Müllfahrzeug 1")
    body["properties"] = {"kind": "vehicle"}
    body["Locations"] = [location_body("Depot", inside)]
    thing = api.create("Things", body)
    make_rule(client, {"name": "stadtgebiet", "target": {"things": {"kind": "vehicle"}},
                       "condition": {"type": "geofence", "when": "leave", "area": {
                           "type": "Polygon", "coordinates": [[[8.90, 50.39], [8.99, 50.39],
                                                               [8.99, 50.44], [8.90, 50.44],
                                                               [8.90, 50.39]]]}}})
    moved = client.post(f"/v1.1/Things({thing})/Locations", json=location_body("weg", outside))
    assert moved.status_code == 201, moved.text
    alert = wait_for(lambda: alerts(client), "the geofence alert")[0]
    assert alert["thingId"] == thing and alert["area"]["coordinates"] == outside["coordinates"]
    back = client.post(f"/v1.1/Things({thing})/Locations", json=location_body("da", inside))
    assert back.status_code == 201
    wait_for(lambda: alerts(client, status="resolved"), "the all-clear")


# -- people ----------------------------------------------------------------------------


def test_acknowledge_comment_and_resolve_by_hand(client: TestClient, api: Api) -> None:
    ds = gauge(api)
    make_rule(client, {"name": "hoch", "target": {"datastream": ds},
                       "condition": {"type": "threshold", "above": [100, 200]}})
    post_values(api, ds, [(10, 150)])
    alert = wait_for(lambda: alerts(client), "the alert")[0]
    url = f"/api/alerts/{alert['id']}"
    assert client.post(url + "/acknowledge", json={"comment": "x"}).status_code == 400
    answer = client.post(url + "/acknowledge", json={"by": "M. Weber", "comment": "Bauhof fährt hin"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "acknowledged" and answer.json()["acknowledgedBy"] == "M. Weber"
    assert client.post(url + "/comments", json={"by": "M. Weber", "comment": "Sandsäcke"}).status_code == 201
    # Worse news opens it again for the people on duty.
    post_values(api, ds, [(5, 210)])
    wait_for(lambda: alerts(client, status="open"), "the escalated alert")
    answer = client.post(url + "/resolve", json={"by": "M. Weber", "comment": "erledigt"})
    assert answer.status_code == 200 and answer.json()["resolvedBy"] == "M. Weber"
    assert client.post(url + "/resolve", json={"by": "M. Weber"}).status_code == 409
    assert client.post(url + "/acknowledge", json={"by": "M. Weber"}).status_code == 409
    one = client.get(url).json()
    assert [(e["kind"], e["by"]) for e in one["history"]] == [
        ("opened", None), ("acknowledged", "M. Weber"), ("commented", "M. Weber"),
        ("escalated", None), ("resolved", "M. Weber")]
    assert one["history"][2]["comment"] == "Sandsäcke"
    # Resolved by hand while the value stays high: no new alert for the same condition.
    post_values(api, ds, [(2, 215)])
    time.sleep(0.3)
    assert len(alerts(client)) == 1
    assert client.get("/api/alerts/999999").status_code == 404


def test_alert_filters(client: TestClient, api: Api) -> None:
    north = gauge(api, "Nord")
    south_body = gauge(api, "Süd")
    make_rule(client, {"name": "a", "target": {"datastream": north}, "severity": "minor",
                       "condition": {"type": "threshold", "above": 1}})
    make_rule(client, {"name": "b", "target": {"datastream": south_body}, "severity": "extreme",
                       "condition": {"type": "threshold", "above": 1}})
    post_values(api, north, [(1, 5)])
    post_values(api, south_body, [(1, 5)])
    wait_for(lambda: len(alerts(client)) == 2, "two alerts")
    assert [a["severity"] for a in alerts(client, severity="extreme")] == ["extreme"]
    assert len(alerts(client, status="open,acknowledged")) == 2
    assert alerts(client, status="resolved") == []
    assert len(alerts(client, since=ago(5))) == 2 and alerts(client, until=ago(5)) == []
    near = "POLYGON((9.0 48.5, 9.5 48.5, 9.5 49.0, 9.0 49.0, 9.0 48.5))"  # around the POINT
    assert len(alerts(client, area=near)) == 2
    assert alerts(client, area="POLYGON((0 0, 1 0, 1 1, 0 1, 0 0))") == []
    for bad in ({"status": "offen"}, {"severity": "high"}, {"since": "gestern"},
                {"area": "KREIS(1 2)"}, {"limit": "0"}):
        response = client.get("/api/alerts", params=bad)
        assert response.status_code == 400, bad
        assert response.json()["code"] == "bad_request"


# -- managing rules ----------------------------------------------------------------------


@pytest.mark.parametrize("body,message", [
    ({"target": {"datastream": 1}, "condition": {"type": "threshold", "above": 1}}, "name must be"),
    ({"name": "x", "condition": {"type": "threshold", "above": 1}}, "target must be"),
    ({"name": "x", "target": {"datastream": 1}, "condition": {"type": "hot"}}, "type is one of"),
    ({"name": "x", "target": {"datastream": 1}, "condition": {"type": "threshold"}},
     "either above or below"),
    ({"name": "x", "target": {"datastream": 1},
      "condition": {"type": "threshold", "above": [3, 2]}}, "must be rising"),
    ({"name": "x", "target": {"datastream": 1},
      "condition": {"type": "threshold", "above": 1, "for": "10 minutes"}}, "ISO 8601 duration"),
    ({"name": "x", "target": {"datastream": 1}, "condition": {"type": "rate", "rise": 5}},
     "within must be an ISO 8601 duration"),
    ({"name": "x", "target": {"datastream": 1},
      "condition": {"type": "threshold", "above": 1, "for": "P99999999999999D"}},
     "for must be at most P30D"),
    ({"name": "x", "target": {"datastream": 1}, "condition": {"type": "stale", "after": "P400D"}},
     "at most P366D"),
    ({"name": "x", "target": {"datastream": 1}, "severity": "bad",
      "condition": {"type": "threshold", "above": 1}}, "severity must be one of"),
    ({"name": "x", "target": {"datastream": 1}, "condition": {"type": "geofence", "area": {
        "type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}}},
     "a geofence watches Things"),
    ({"name": "x", "target": {"things": {}}, "condition": {"type": "geofence", "area": {"type": "Point"}}},
     "valid GeoJSON Polygon"),
    ({"name": "x", "target": {"datastream": 999999}, "condition": {"type": "threshold", "above": 1}},
     "no Datastream with @iot.id 999999"),
    ({"name": "x", "target": {"datastream": 1}, "condition": {"type": "threshold", "above": [1, 2]},
      "levels": [{"name": "eins", "severity": "minor"}]}, "the condition has 2 level(s)"),
    ({"name": "x", "target": {"datastream": 1}, "colour": "red",
      "condition": {"type": "threshold", "above": 1}}, "colour"),
])
def test_bad_rules_are_refused_with_a_reason(client: TestClient, api: Api, body: dict[str, Any],
                                             message: str) -> None:
    gauge(api)
    response = client.post("/api/rules", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "bad_request"
    assert message in response.json()["message"]
    assert client.get("/api/rules").json()["value"] == []


def test_rules_are_created_listed_changed_and_deleted(client: TestClient, api: Api) -> None:
    ds = gauge(api)
    body = {"name": "hoch", "target": {"datastream": ds},
            "condition": {"type": "threshold", "above": 100}}
    created = make_rule(client, body)
    assert created["enabled"] is True and created["revision"] == 1
    assert client.post("/api/rules", json=body).status_code == 409
    assert [r["name"] for r in client.get("/api/rules").json()["value"]] == ["hoch"]
    changed = client.patch("/api/rules/hoch", json={"description": "neu"})
    assert changed.status_code == 200 and changed.json()["revision"] == 2
    assert changed.json()["condition"] == body["condition"]
    assert client.patch("/api/rules/hoch", json={"condition": {"type": "x"}}).status_code == 400
    assert client.get("/api/rules/hoch").json()["description"] == "neu"  # unchanged by the 400
    replaced = client.put("/api/rules/hoch", json={**body, "severity": "extreme"})
    assert replaced.status_code == 200 and "description" not in replaced.json()
    post_values(api, ds, [(1, 150)])
    wait_for(lambda: alerts(client), "the alert")
    disabled = client.patch("/api/rules/hoch", json={"enabled": False})
    assert disabled.status_code == 200 and disabled.json()["enabled"] is False
    alert = alerts(client)[0]
    assert alert["status"] == "resolved" and alert["resolvedBy"] == "system"
    assert client.get(f"/api/alerts/{alert['id']}").json()["history"][-1]["comment"] == \
        "the rule was disabled"
    assert client.delete("/api/rules/hoch").status_code == 204
    assert client.get("/api/rules/hoch").status_code == 404
    assert client.delete("/api/rules/hoch").status_code == 404
    assert alerts(client)[0]["rule"] == "hoch"  # the history stays


# -- restarts --------------------------------------------------------------------------


def test_state_survives_a_restart(settings: Settings) -> None:
    """A level pending before the restart is reached after it; an open alert is not
    opened twice; and what was written while no engine ran is evaluated at start."""
    with TestClient(make_app(settings)) as first:
        api = Api(first)
        ds = gauge(api)
        other = gauge(api, "Pegel zwei")
        make_rule(first, {"name": "dauer", "target": {"datastream": ds},
                          "condition": {"type": "threshold", "above": 50, "for": "PT20M"}})
        make_rule(first, {"name": "sofort", "target": {"datastream": other},
                          "condition": {"type": "threshold", "above": 50}})
        post_values(api, ds, [(40, 60)])
        post_values(api, other, [(40, 60)])
        wait_for(lambda: alerts(first), "the alert of the second gauge")
        first.portal.call(engine_of(first).stop)  # type: ignore[union-attr]
        post_values(api, other, [(30, 40)])  # the all-clear, written while no engine runs
    with TestClient(make_app(settings)) as second:
        api = Api(second)
        wait_for(lambda: alerts(second, status="resolved"), "the all-clear found at start")
        post_values(api, ds, [(10, 61)])  # 30 minutes above: the pending level is reached
        found = wait_for(lambda: [a for a in alerts(second) if a["rule"] == "dauer"], "the alert")
        post_values(api, other, [(5, 70)])
        wait_for(lambda: len(alerts(second)) == 3, "a new alert for the second gauge")
    with TestClient(make_app(settings)) as third:
        post_values(Api(third), ds, [(1, 62)])
        time.sleep(0.5)
        assert len([a for a in alerts(third) if a["rule"] == "dauer"]) == 1
        assert history(third, found[0]["id"]) == ["opened"]


@pytest.mark.parametrize("backend", ["postgresql"])  # several workers need PostgreSQL
def test_two_workers_open_one_alert(settings: Settings) -> None:
    """Two processes' engines (two apps on one database) evaluate their own writes of the
    same Datastream at once: one alert, opened once."""
    with TestClient(make_app(settings)) as first, TestClient(make_app(settings)) as second:
        ds = gauge(Api(first))
        make_rule(first, {"name": "hoch", "target": {"datastream": ds},
                          "condition": {"type": "threshold", "above": 100}})
        assert second.portal is not None
        second.portal.call(engine_of(second).refresh)
        from concurrent.futures import ThreadPoolExecutor

        def send(pair: tuple[TestClient, float]) -> int:
            worker, minutes = pair
            return Api(worker).post(f"Datastreams({ds})/Observations",
                                    {"phenomenonTime": ago(minutes), "result": 150}).status_code

        jobs = [(first if i % 2 else second, 30 - i * 0.1) for i in range(40)]
        with ThreadPoolExecutor(max_workers=8) as pool:
            assert set(pool.map(send, jobs)) == {201}
        wait_for(lambda: alerts(first), "the alert")
        time.sleep(1.0)
        found = alerts(second)
        assert len(found) == 1
        assert history(first, found[0]["id"]) == ["opened"]


def test_the_next_level_is_estimated_from_the_trend_only_within_a_week() -> None:
    from quartier.rules.evaluate import ESTIMATE_HORIZON, estimate_next

    now = time.time()
    rising = [(now - 600 + 60 * i, 100.0 + i) for i in range(6)]  # 1 cm a minute
    found = estimate_next([150.0, 200.0], 0, rising, "above")
    assert found is not None and found["level"] == 1
    assert found["at"] == pytest.approx(rising[-1][0] + 45 * 60)
    # A trend so slow that the level lies years ahead (once past what a date can hold)
    # gives no estimate rather than an error.
    creeping = [(now - 600 + 60 * i, 100.0 + i * 1e-12) for i in range(6)]
    assert estimate_next([150.0], 0, creeping, "above") is None
    barely = [(now + 60 * i, 100.0 + i * 60 * 50.0 / ESTIMATE_HORIZON * 0.99) for i in range(6)]
    assert estimate_next([150.0], 0, barely, "above") is None
