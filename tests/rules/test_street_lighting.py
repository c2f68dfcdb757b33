"""Street-lighting faults as rules, and the maintenance work orders they open, on both
backends: a lamp dark at night, a lamp burning by day, a lamp drawing more than its rated
power or too little of it while it burns and a silent cabinet each open one alert and one
work order; work orders by hand,
their lifecycle and refusals of bad input (4xx in the one error shape, nothing written)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from astral import Observer
from astral.sun import elevation

from conftest import Api, TestClient, create_tenant
from dashboard.usecase_fixtures import device
from quartier.rules.definition import parse_rule
from quartier.rules.evaluate import should_be_lit
from quartier.settings import Settings
from quartier.workorders import WorkOrders
from rules.test_rules import alerts, engine_of, post_values, wait_for


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def place(night: bool) -> tuple[float, float]:
    """(lon, lat) on the equator where the sun has been well below (night) or well above
    the horizon for the last two hours and stays so for the next one."""
    now = datetime.now(UTC).timestamp()
    for lon in range(-180, 180, 15):
        sun = [elevation(Observer(0.0, float(lon)), datetime.fromtimestamp(now + h * 1800, UTC))
               for h in range(-4, 3)]
        if (night and max(sun) < -15) or (not night and min(sun) > 15):
            return float(lon), 0.0
    raise AssertionError("no such place")  # never: the sun is somewhere


def lamp(api: Api, name: str, at: tuple[float, float], rated: float = 38) -> dict[str, int]:
    return device(api, name, {"kind": "streetlight", "cabinet": "SK-01", "circuit": 1,
                              "ratedPower": rated}, ["state", "dimming", "power", "energy"], at)


def template(client: TestClient, **body: Any) -> list[dict[str, Any]]:
    response = client.post("/api/rules/templates/street-lighting", json=body)
    assert response.status_code == 201, response.text
    assert client.portal is not None
    client.portal.call(engine_of(client).refresh)
    return list(response.json()["value"])


def orders(client: TestClient, **params: Any) -> dict[str, Any]:
    response = client.get("/api/workorders", params=params)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_should_be_lit_follows_the_sun() -> None:
    rule = parse_rule({"name": "r", "target": {"datastream": 1},
                       "condition": {"type": "daylight", "latitude": 52.52, "longitude": 13.40}})
    midsummer_noon = datetime(2026, 6, 21, 11, 0, tzinfo=UTC).timestamp()
    midwinter_night = datetime(2026, 12, 21, 22, 0, tzinfo=UTC).timestamp()
    assert not should_be_lit(rule.condition, midsummer_noon)
    assert should_be_lit(rule.condition, midwinter_night)


def test_a_failed_lamp_opens_one_fault_and_one_work_order(client: TestClient, api: Api) -> None:
    dark = place(night=True)
    dead = lamp(api, "Leuchte SK-01-07", dark)
    fine = lamp(api, "Leuchte SK-01-08", dark)
    rules = template(client, grace="PT30M")
    assert [r["name"] for r in rules] == ["strassenbeleuchtung-schedule", "strassenbeleuchtung-power",
                                          "strassenbeleuchtung-power-low"]
    post_values(api, fine["state"], [(50, "on"), (35, "on"), (20, "on")])
    post_values(api, dead["state"], [(50, "off"), (35, "off"), (20, "off"), (5, "off")])
    found = wait_for(lambda: alerts(client), "the fault")
    assert len(found) == 1
    alert = found[0]
    assert alert["rule"] == "strassenbeleuchtung-schedule" and alert["thingId"] == dead["thing"]
    listing = wait_for(lambda: orders(client)["value"], "the work order")
    assert len(listing) == 1
    order = listing[0]
    assert order["alertId"] == alert["id"] and order["thingId"] == dead["thing"]
    assert order["status"] == "open" and order["createdBy"] == "rules"
    assert "SK-01-07" in order["title"]
    # Later values, and a second attempt from another worker, change nothing.
    post_values(api, dead["state"], [(1, "off")])
    app_store = engine_of(client).store

    async def again() -> None:
        async with app_store.transaction() as conn:
            await WorkOrders(app_store).for_alert(conn, 1, alert["id"], dead["thing"], "twice")

    assert client.portal is not None
    client.portal.call(again)
    assert len(alerts(client)) == 1 and orders(client)["total"] == 1


def test_a_lamp_burning_by_day_is_a_fault(client: TestClient, api: Api) -> None:
    bright = place(night=False)
    stuck = lamp(api, "Leuchte SK-02-03", bright)
    template(client, name="licht", grace="PT10M")
    post_values(api, stuck["state"], [(30, "on"), (15, "on")])
    alert = wait_for(lambda: alerts(client), "the fault")[0]
    assert alert["rule"] == "licht-schedule"
    assert wait_for(lambda: orders(client)["value"], "the work order")[0]["alertId"] == alert["id"]


def test_power_above_the_rated_band_and_a_silent_cabinet(client: TestClient, api: Api) -> None:
    dark = place(night=True)
    hungry = lamp(api, "Leuchte SK-03-01", dark, rated=38)
    normal = lamp(api, "Leuchte SK-03-02", dark, rated=56)
    cabinet = device(api, "Schaltschrank Markt", {"kind": "cabinet", "cabinet": "SK-03"},
                     ["voltage", "load"], dark)
    rules = template(client, overdraw=1.2, grace="PT15M", silentAfter="PT30M")
    assert {r["name"] for r in rules} == {"strassenbeleuchtung-schedule", "strassenbeleuchtung-power",
                                          "strassenbeleuchtung-power-low",
                                          "strassenbeleuchtung-cabinet-silent"}
    # 38 W times 1.2 = 45.6 W: 60 W is too much for the one, 50 W is fine for the other.
    post_values(api, hungry["power"], [(40, 60.0), (20, 61.0), (5, 60.5)])
    post_values(api, normal["power"], [(40, 50.0), (20, 50.0), (5, 50.0)])
    post_values(api, cabinet["voltage"], [(90, 231.0), (75, 230.0)])
    power = wait_for(lambda: alerts(client), "the power fault")
    assert [a["datastreamId"] for a in power] == [hungry["power"]]
    assert client.portal is not None
    client.portal.call(engine_of(client).check_stale)
    found = alerts(client)
    assert {a["rule"] for a in found} == {"strassenbeleuchtung-power",
                                          "strassenbeleuchtung-cabinet-silent"}
    listing = orders(client)["value"]
    assert sorted(o["alertId"] for o in listing) == sorted(a["id"] for a in found)
    assert {o["thingId"] for o in listing} == {hungry["thing"], cabinet["thing"]}


def test_power_below_the_rated_band_while_burning_is_a_fault(client: TestClient, api: Api) -> None:
    dark = place(night=True)
    weak = lamp(api, "Leuchte SK-05-02", dark, rated=56)  # a failed LED driver
    dimmed = lamp(api, "Leuchte SK-05-03", dark, rated=56)
    off = lamp(api, "Leuchte SK-05-04", dark, rated=56)
    rules = template(client, grace="PT15M", underdraw=0.3, standby=2)
    low = next(r for r in rules if r["name"] == "strassenbeleuchtung-power-low")
    assert low["condition"]["below"] == {"property": "ratedPower", "factor": 0.3}
    # 56 W times 0.3 = 16.8 W: 6 W while burning is too little; 28 W (dimmed to 50 %) is
    # fine, and 0.4 W is a lamp switched off (its standby draw), not a fault.
    post_values(api, weak["power"], [(40, 6.1), (20, 5.8), (5, 6.0)])
    post_values(api, dimmed["power"], [(40, 28.0), (20, 27.5), (5, 28.3)])
    post_values(api, off["power"], [(40, 0.4), (20, 0.4), (5, 0.4)])
    found = wait_for(lambda: alerts(client), "the low-power fault")
    assert [(a["rule"], a["datastreamId"]) for a in found] == [
        ("strassenbeleuchtung-power-low", weak["power"])]
    listing = wait_for(lambda: orders(client)["value"], "the work order")
    assert [(o["alertId"], o["thingId"]) for o in listing] == [(found[0]["id"], weak["thing"])]


def test_a_threshold_floor_must_lie_below_its_levels(client: TestClient) -> None:
    response = client.post("/api/rules", json={
        "name": "r", "target": {"datastream": 1},
        "condition": {"type": "threshold", "below": 5, "floor": 6}})
    assert response.status_code == 400 and "floor" in response.json()["message"]
    assert client.get("/api/rules").json()["value"] == []


def test_the_template_refuses_bad_input_and_writes_nothing(client: TestClient, api: Api) -> None:
    for body in ({"colour": "red"}, [1], {"grace": "soon"}, {"overdraw": -1}, {"underdraw": 0},
                 {"standby": "little"},
                 {"latitude": 95, "longitude": 0}, {"elevation": "low"}):
        if body == {"grace": "soon"}:
            lamp(api, "Leuchte SK-09-01", place(night=True))
        response = client.post("/api/rules/templates/street-lighting", json=body)
        assert response.status_code == 400, (body, response.text)
        assert set(response.json()) >= {"code", "message"}
        assert client.get("/api/rules").json()["value"] == []
    template(client)
    again = client.post("/api/rules/templates/street-lighting", json={})
    assert again.status_code == 409
    assert len(client.get("/api/rules").json()["value"]) == 3


def test_no_lamps_no_rules(client: TestClient) -> None:
    response = client.post("/api/rules/templates/street-lighting", json={})
    assert response.status_code == 400 and "no lamps" in response.json()["message"]


# -- work orders by hand ---------------------------------------------------------------


def test_work_order_lifecycle(client: TestClient, api: Api) -> None:
    thing = lamp(api, "Leuchte SK-04-11", place(night=True))["thing"]
    made = client.post("/api/workorders", json={
        "title": "Leuchte flackert", "description": "Anwohner meldet Flackern",
        "thingId": thing, "createdBy": "Leitstelle"})
    assert made.status_code == 201, made.text
    order = made.json()
    assert made.headers["location"].endswith(f"/api/workorders/{order['id']}")
    assert order["status"] == "open" and order["assignee"] is None and order["alertId"] is None
    taken = client.patch(f"/api/workorders/{order['id']}",
                         json={"status": "in_progress", "assignee": "K. Berger"})
    assert taken.status_code == 200, taken.text
    assert taken.json()["status"] == "in_progress" and taken.json()["assignee"] == "K. Berger"
    assert orders(client, status="in_progress", assignee="K. Berger")["total"] == 1
    assert orders(client, status="open,done")["total"] == 0
    refused = client.patch(f"/api/workorders/{order['id']}", json={"status": "done"})
    assert refused.status_code == 400 and "closing note" in refused.json()["message"]
    assert client.get(f"/api/workorders/{order['id']}").json()["status"] == "in_progress"
    done = client.patch(f"/api/workorders/{order['id']}",
                        json={"status": "done", "closingNote": "Vorschaltgerät getauscht"})
    assert done.status_code == 200, done.text
    closed = done.json()
    assert closed["status"] == "done" and closed["closingNote"] == "Vorschaltgerät getauscht"
    assert closed["closedAt"] is not None
    reopened = client.patch(f"/api/workorders/{order['id']}", json={"status": "open"})
    assert reopened.status_code == 409
    assert client.get(f"/api/workorders/{order['id']}").json() == closed


@pytest.mark.parametrize("body", [
    {}, [], "x", {"title": ""}, {"title": 5}, {"title": "t", "colour": "red"},
    {"title": "t", "status": "done"}, {"title": "t", "status": "closed"},
    {"title": "t", "thingId": 999}, {"title": "t", "thingId": "1"}, {"title": "t", "alertId": 999},
    {"title": "t" * 201}, {"title": "t", "assignee": ["a"]}, {"title": "t", "thingId": 2**70},
    {"title": "t", "alertId": 2**63},
])
def test_bad_work_orders_are_refused_and_nothing_is_written(client: TestClient, body: Any) -> None:
    response = client.post("/api/workorders", json=body)
    assert response.status_code == 400, (body, response.text)
    assert set(response.json()) >= {"code", "message"}
    assert orders(client)["total"] == 0


def test_bad_changes_and_reads_are_refused(client: TestClient) -> None:
    order = client.post("/api/workorders", json={"title": "Mast schief"}).json()
    path = f"/api/workorders/{order['id']}"
    for body in ({}, {"status": "fixed"}, {"title": None}, {"colour": "red"}, [1],
                 {"closingNote": 3}):
        response = client.patch(path, json=body)
        assert response.status_code == 400, (body, response.text)
        assert set(response.json()) >= {"code", "message"}
    assert client.get(path).json() == order
    bad_json = client.patch(path, content=b"{", headers={"Content-Type": "application/json"})
    assert bad_json.status_code == 400
    assert client.get("/api/workorders/999").status_code == 404
    assert client.patch("/api/workorders/999", json={"status": "open"}).status_code == 404
    assert client.get("/api/workorders", params={"status": "finished"}).status_code == 400
    assert client.get("/api/workorders", params={"limit": "0"}).status_code == 400


def test_one_work_order_per_alert_by_hand_too(client: TestClient, api: Api) -> None:
    dead = lamp(api, "Leuchte SK-06-15", place(night=True))
    template(client)
    post_values(api, dead["state"], [(50, "off"), (10, "off")])
    alert = wait_for(lambda: alerts(client), "the fault")[0]
    existing = wait_for(lambda: orders(client)["value"], "the work order")[0]
    again = client.post("/api/workorders", json={"title": "noch einer", "alertId": alert["id"]})
    assert again.status_code == 409, again.text
    assert orders(client)["total"] == 1 and orders(client)["value"][0] == existing


def test_a_daylight_rule_is_checked(client: TestClient) -> None:
    base = {"name": "d", "target": {"datastream": 1}}
    for condition in ({"type": "daylight"}, {"type": "daylight", "latitude": 0},
                      {"type": "daylight", "latitude": 0, "longitude": 200},
                      {"type": "daylight", "latitude": 0, "longitude": 0, "elevation": 40},
                      {"type": "daylight", "latitude": 0, "longitude": 0, "sun": 1}):
        response = client.post("/api/rules", json={**base, "condition": condition})
        assert response.status_code == 400, (condition, response.text)
    response = client.post("/api/rules", json={**base, "workOrder": "yes", "condition": {
        "type": "daylight", "latitude": 0, "longitude": 0}})
    assert response.status_code == 400
    assert client.get("/api/rules").json()["value"] == []



def test_work_orders_stay_in_their_tenant(settings: Settings, client: TestClient) -> None:
    create_tenant(settings, "nachbarort")
    made = client.post("/t/nachbarort/api/workorders", json={"title": "Mast umgefahren"})
    assert made.status_code == 201, made.text
    order = made.json()["id"]
    assert orders(client)["total"] == 0
    assert client.get(f"/api/workorders/{order}").status_code == 404
    assert client.patch(f"/api/workorders/{order}", json={"assignee": "x"}).status_code == 404
    assert client.get(f"/t/nachbarort/api/workorders/{order}").json()["title"] == "Mast umgefahren"
