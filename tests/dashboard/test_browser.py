"""The dashboard in a real browser: Debian's Chromium driven by Playwright against a
real server (uvicorn on a TCP port, SQLite) that the demo town filled with a day of data.

With QUARTIER_SCREENSHOTS=1 the tests also save the pictures of the main pages that the
README shows (docs/screenshots/).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx2 as httpx
import pytest

from conftest import admin_key, serving
from quartier.app import build_app
from quartier.demo.build import SimTown, build_town
from quartier.demo.provision import Provisioned
from quartier.demo.simulation import Simulation
from quartier.demo.town import load_town
from quartier.settings import Settings

playwright_api = pytest.importorskip("playwright.sync_api")

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / "docs" / "screenshots"
WAIT_MS = 30_000


@dataclass
class Town:
    base: str
    sim: SimTown
    provisioned: Provisioned
    key: str  # an admin key: the dashboard's pages get it as ?key=…

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        response = httpx.request(method, f"{self.base}{path}", timeout=60, headers=self.auth, **kwargs)
        assert response.status_code < 300, response.text
        return response.json() if response.content else None


@pytest.fixture(scope="module")
def town(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Town]:
    settings = Settings.validated({"data_dir": tmp_path_factory.mktemp("dashboard")})
    # The town as it is now, with a day of history: what an operator would see.
    sim = build_town(load_town(), time.time())
    app = build_app(settings)
    with serving(app) as base:
        key = admin_key(app)

        async def fill() -> Provisioned:
            async with Simulation(sim, base, api_key=key) as simulation:
                provisioned = await simulation.setup()
                await simulation.backfill(1)
                return provisioned

        yield Town(base, sim, asyncio.run(fill()), key)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    assert Path(CHROMIUM).exists(), "Chromium is missing: scripts/setup.sh --test installs it"
    with playwright_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                     args=["--no-sandbox", "--disable-dev-shm-usage"])
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any, town: Town) -> Iterator[Any]:
    context = browser.new_context(locale="en-GB", viewport={"width": 1280, "height": 860},
                                  timezone_id="Europe/Berlin")
    # An operator who has entered the admin key in the header's field.
    context.add_init_script(f"sessionStorage.setItem('quartier.apiKey', {town.key!r})")
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert not errors, f"script errors on the page: {errors}"


def axe_violations(page: Any) -> list[dict[str, Any]]:
    assert AXE.exists(), "axe-core is missing: scripts/setup.sh installs it from npm"
    # Served as if from the dashboard's own origin: the Content-Security-Policy allows no
    # inline script, and the test keeps it on.
    page.route("**/__test__/axe.min.js",
               lambda route: route.fulfill(path=str(AXE), content_type="text/javascript"))
    page.add_script_tag(url="/__test__/axe.min.js")
    result = page.evaluate(
        "async () => (await axe.run(document)).violations"
        ".map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.slice(0, 3).map(n => n.html)}))")
    return list(result)


def screenshot(page: Any, name: str) -> None:
    if os.environ.get("QUARTIER_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def thing_id(town: Town, key: str) -> int:
    return town.provisioned.things[key]


def gauge(town: Town) -> Any:
    return town.sim.of_kind("gauge")[0]


# -- the pages ------------------------------------------------------------------------------


def test_the_map_shows_the_towns_things(town: Town, page: Any) -> None:
    page.goto(f"{town.base}/")
    count = page.locator("#thing-count")
    devices = len(town.sim.devices)
    playwright_api.expect(count).to_have_text(f"{devices:,} Things shown")
    assert page.locator("#map .thing-marker, #map .thing-cluster").count() > 0
    # The base map came from the platform (no tile server): districts, waters, streets.
    assert page.locator("#map path").count() >= 6 + 2 + 18
    assert page.locator("#map img.leaflet-tile").count() == 0
    screenshot(page, "map")
    # The layers: without lighting, the street lights are gone from list and map.
    lights = len(town.sim.of_kind("streetlight")) + len(town.sim.of_kind("cabinet"))
    page.get_by_label("Lighting").uncheck()
    playwright_api.expect(count).to_have_text(f"{devices - lights:,} Things shown")
    page.get_by_label("Lighting").check()
    # The search finds a gauge, and its link opens the Thing's page.
    name = gauge(town).name
    page.get_by_label("Search Things").fill(name)
    playwright_api.expect(count).to_have_text("1 Things shown")
    page.locator("#thing-list a", has_text=name).click()
    playwright_api.expect(page.locator("h1")).to_have_text(name)
    assert page.url.endswith(f"#/things/{thing_id(town, gauge(town).key)}")


def test_a_marker_opens_its_thing_by_keyboard(town: Town, page: Any) -> None:
    page.goto(f"{town.base}/")
    works = town.sim.of_kind("water_works")[0]
    page.get_by_label("Search Things").fill(works.name)
    marker = page.locator("#map .thing-marker", has_text=works.name)
    playwright_api.expect(marker).to_have_count(1)
    marker.focus()
    page.keyboard.press("Enter")
    playwright_api.expect(page.locator("h1")).to_have_text(works.name)


def test_a_chart_draws_a_datastreams_data(town: Town, page: Any) -> None:
    g = gauge(town)
    page.goto(f"{town.base}/#/things/{thing_id(town, g.key)}")
    playwright_api.expect(page.locator("h1")).to_have_text(g.name)
    level = town.provisioned.datastreams[(g.key, "level")]
    row = page.locator(f"tr[data-datastream='{level}']")
    playwright_api.expect(row.locator("td.num")).to_contain_text("cm")
    panel = page.locator(f".chart-panel[data-datastream='{level}']")
    playwright_api.expect(panel).to_have_attribute("data-points", re.compile(r"^[1-9]\d*$"))
    assert panel.locator("canvas").count() >= 1
    points = int(panel.get_attribute("data-points"))
    assert points >= 24  # a day of values, one at least every hour
    assert "values from" in (panel.locator(".plot").get_attribute("aria-label") or "")
    screenshot(page, "thing")
    # Another range asks the server again.
    hour = panel.get_by_role("button", name="1 hour")
    hour.click()
    playwright_api.expect(hour).to_have_attribute("aria-pressed", "true")
    playwright_api.expect(panel.locator(".chart-note, .empty")).not_to_have_text("")


def test_an_alert_appears_live_and_is_acknowledged(town: Town, page: Any) -> None:
    works = town.sim.of_kind("water_works")[0]
    datastream = town.provisioned.datastreams[(works.key, "ph")]
    town.api("POST", "/api/rules", json={
        "name": "test-ph-hoch", "severity": "severe", "target": {"datastream": datastream},
        "condition": {"type": "threshold", "above": 9.5}})
    page.goto(f"{town.base}/#/alerts")
    playwright_api.expect(page.locator("h1")).to_have_text("Alerts")
    playwright_api.expect(page.locator("#live-state")).to_contain_text("Live")
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    town.api("POST", f"/v1.1/Datastreams({datastream})/Observations",
             json={"phenomenonTime": now, "result": 11.2})
    row = page.locator("tr[data-alert]", has_text="test-ph-hoch")
    playwright_api.expect(row).to_have_count(1)  # pushed, not reloaded
    playwright_api.expect(row).to_have_attribute("data-status", "open")
    playwright_api.expect(row).to_contain_text("severe")
    playwright_api.expect(page.locator("#alert-count")).to_be_visible()
    screenshot(page, "alerts")
    row.get_by_role("button", name=re.compile("^Acknowledge")).click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Your name").fill("M. Weber")
    dialog.get_by_label("Comment").fill("Wasserwerk informiert")
    assert axe_violations(page) == []
    dialog.get_by_role("button", name="Acknowledge alert").click()
    playwright_api.expect(row).to_have_attribute("data-status", "acknowledged")
    playwright_api.expect(row).to_contain_text("M. Weber")
    alert_id = int(row.get_attribute("data-alert"))
    history = town.api("GET", f"/api/alerts/{alert_id}")
    assert history["acknowledgedBy"] == "M. Weber"
    assert any(e.get("comment") == "Wasserwerk informiert" for e in history["history"])
    # The Thing's page lists it among its open alerts.
    page.goto(f"{town.base}/#/things/{thing_id(town, works.key)}")
    playwright_api.expect(page.locator("#thing-alerts tr[data-alert]")).to_have_count(1)
    town.api("DELETE", "/api/rules/test-ph-hoch")


def test_the_flood_view_shows_every_gauge(town: Town, page: Any) -> None:
    page.goto(f"{town.base}/#/flood")
    gauges = town.sim.of_kind("gauge")
    cards = page.locator("article.gauge")
    playwright_api.expect(cards).to_have_count(len(gauges))
    first = cards.first
    playwright_api.expect(first.locator(".level")).to_contain_text("cm")
    playwright_api.expect(first.locator(".stage")).to_contain_text("reporting level")
    trend = re.compile("rising|falling|steady")
    playwright_api.expect(first.locator(".trend")).to_contain_text(trend)
    screenshot(page, "flood")


def test_the_data_explorer_gives_the_query_and_the_csv(town: Town, page: Any) -> None:
    station = gauge(town)
    page.goto(f"{town.base}/#/explore")
    playwright_api.expect(page.locator("h1")).to_have_text("Data explorer")
    page.get_by_label("Thing", exact=True).select_option(label=station.name)
    page.get_by_label(f"{station.name} Wasserstand").check()
    url = page.locator("#explore-url")
    playwright_api.expect(url).to_contain_text("Datastream/id in (")
    playwright_api.expect(page.locator("#explore-preview tbody tr")).to_have_count(20)
    playwright_api.expect(page.locator("#explore-preview tbody tr").first).to_contain_text("cm")
    screenshot(page, "explore")
    # The query shown gives the same data through the API, and the CSV link downloads it.
    shown = httpx.get(url.inner_text(), timeout=60).json()["value"]
    assert len(shown) > 90 and {o["Datastream"]["name"] for o in shown} == {f"{station.name} Wasserstand"}
    csv = httpx.get(page.locator("#explore-csv").get_attribute("href") or "", timeout=60)
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    lines = csv.text.strip().splitlines()
    assert len(lines) == len(shown) + 1 and "result" in lines[0]
    assert axe_violations(page) == []
    page.get_by_label(f"{station.name} Wasserstand").uncheck()
    playwright_api.expect(page.locator("#explore-preview")).to_contain_text("Choose a Thing")


def test_the_language_follows_the_browser_and_the_switch(town: Town, browser: Any) -> None:
    context = browser.new_context(locale="de-DE", timezone_id="Europe/Berlin")
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    try:
        page.goto(f"{town.base}/")
        playwright_api.expect(page.locator("h1")).to_have_text("Übersichtskarte")
        assert page.locator("html").get_attribute("lang") == "de"
        devices = len(town.sim.devices)
        # German numbers: a dot between thousands.
        german = f"{devices:,} Dinge angezeigt".replace(",", ".")
        playwright_api.expect(page.locator("#thing-count")).to_have_text(german)
        page.get_by_label("Sprache").select_option("en")
        playwright_api.expect(page.locator("h1")).to_have_text("Overview map")
        navigation = page.get_by_role("navigation")
        playwright_api.expect(navigation.get_by_role("link", name="Alerts")).to_be_visible()
        assert page.locator("html").get_attribute("lang") == "en"
        page.reload()  # the choice is kept
        playwright_api.expect(page.locator("h1")).to_have_text("Overview map")
    finally:
        context.close()


@pytest.mark.parametrize("language", ["en", "de"])
@pytest.mark.parametrize("route", ["#/", "#/things/{thing}", "#/alerts", "#/flood", "#/explore",
                                   "#/environment", "#/parking", "#/admin/devices", "#/admin/rules",
                                   "#/admin/channels"])
def test_every_page_passes_axe(town: Town, page: Any, route: str, language: str) -> None:
    page.add_init_script(f"localStorage.setItem('quartier.lang', '{language}')")
    path = route.format(thing=thing_id(town, gauge(town).key))
    page.goto(f"{town.base}/{path}")
    page.wait_for_selector("main h1")
    page.wait_for_load_state("networkidle")
    if route == "#/things/{thing}":
        page.wait_for_selector(".chart-panel[data-points]")
    violations = axe_violations(page)
    assert violations == [], violations


# -- lighting and fleet ---------------------------------------------------------------------


def _circuits(town: Town) -> set[tuple[str, str]]:
    lamps = town.sim.of_kind("streetlight")
    return {(str(d.properties["cabinet"]), str(d.properties["circuit"])) for d in lamps}


def test_the_lighting_view_shows_lamps_circuits_and_energy(town: Town, page: Any) -> None:
    page.goto(f"{town.base}/#/lighting")
    playwright_api.expect(page.locator("h1")).to_have_text("Street lighting")
    lamps = town.sim.of_kind("streetlight")
    playwright_api.expect(page.locator("#lighting-map .uc-marker")).to_have_count(len(lamps))
    rows = page.locator("#circuits-table tbody tr")
    playwright_api.expect(rows).to_have_count(len(_circuits(town)))
    counted = page.evaluate("() => [...document.querySelectorAll('#circuits-table td[data-status]')]"
                            ".reduce((sum, td) => sum + Number(td.textContent.replace(/\\D/g, '')), 0)")
    assert counted == len(lamps)
    # The dead lamp of the demo town is "failed" while its circuit is lit, else "off".
    dead = next(d for d in lamps if getattr(d, "fault", None) == "dead")
    hour_ago = time.time() - 3600
    if dead.since_faulty is not None and dead.since_faulty < hour_ago and town.sim.world.sky.dark(hour_ago):
        row = page.locator(f"#attention-table tr[data-thing='{thing_id(town, dead.key)}']")
        playwright_api.expect(row).to_have_attribute("data-status", "failed")
    # A week of energy per circuit, in kWh, with the figures the API gives.
    days = page.locator("#energy-table tbody tr")
    playwright_api.expect(days).to_have_count(7)
    csv_url = page.locator("#energy-csv").get_attribute("href") or ""
    report = town.api("GET", csv_url.replace("format=csv", "format=json"))
    assert report["sum"] > 0 and len(report["circuits"]) == len(_circuits(town))
    total = page.locator("#energy-table tfoot td.total")
    # Rounded as the browser rounds (a half away from zero), not as Python's format does.
    shown = Decimal(str(report["sum"])).quantize(Decimal("0.1"), ROUND_HALF_UP)
    playwright_api.expect(total).to_have_text(f"{shown:,}\u00a0kWh")
    csv = httpx.get(f"{town.base}{csv_url}", timeout=60)
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert len(csv.text.strip().splitlines()) == 1 + 7 * len(_circuits(town))
    screenshot(page, "lighting")
    page.get_by_label("per month").check()
    playwright_api.expect(days).to_have_count(12)
    assert axe_violations(page) == []


def _busiest_day(town: Town) -> tuple[str, dict[str, Any]]:
    """Today or yesterday (Berlin), whichever has the more vehicle positions."""
    berlin = datetime.now(UTC).astimezone(ZoneInfo("Europe/Berlin")).date()
    days = [berlin.isoformat(), date.fromordinal(berlin.toordinal() - 1).isoformat()]
    found = [(d, town.api("GET", f"/api/fleet/day?date={d}&tz=Europe/Berlin")) for d in days]
    return max(found, key=lambda item: sum(len(v["track"]) for v in item[1]["vehicles"]))


def test_the_fleet_view_shows_vehicles_tracks_and_times(town: Town, page: Any) -> None:
    day, fleet = _busiest_day(town)
    page.goto(f"{town.base}/#/fleet?date={day}")
    playwright_api.expect(page.locator("h1")).to_have_text("Fleet")
    vehicles = town.sim.of_kind("vehicle")
    playwright_api.expect(page.locator("#fleet-table tbody tr")).to_have_count(len(vehicles))
    driven = [v for v in fleet["vehicles"] if len(v["track"]) > 1]
    assert driven, "no vehicle drove on either day"
    tracks = page.locator("#fleet-map path.leaflet-interactive")
    playwright_api.expect(tracks.nth(len(driven) - 1)).to_be_attached()
    playwright_api.expect(page.locator("#fleet-map .uc-marker")).to_have_count(len(vehicles))
    busiest = max(driven, key=lambda v: v["operating"])
    assert busiest["operating"] > 0 and busiest["operating"] == busiest["driving"] + busiest["idle"]
    row = page.locator(f"#fleet-table tr[data-thing='{busiest['id']}']")
    playwright_api.expect(row.locator("[data-field=operating]")).not_to_have_text("0 min")
    playwright_api.expect(row.locator("[data-field=distance]")).to_have_text(f"{busiest['distance']:,.1f}\u00a0km")
    screenshot(page, "fleet")
    row.get_by_role("button", name=re.compile("^Show on map")).click()
    assert axe_violations(page) == []
    # The vehicle's own page draws where it has been.
    row.locator("a").click()
    playwright_api.expect(page.locator("#track-map path.leaflet-interactive")).to_have_count(1)
    playwright_api.expect(page.locator("#track-summary")).to_contain_text("positions from")


def test_the_fleet_view_follows_vehicles_live(town: Town, page: Any) -> None:
    page.goto(f"{town.base}/#/fleet")
    playwright_api.expect(page.locator("#live-state")).to_contain_text("Live")
    vehicle = town.sim.of_kind("vehicle")[-1]
    thing = thing_id(town, vehicle.key)
    row = page.locator(f"#fleet-table tr[data-thing='{thing}']")
    playwright_api.expect(row).to_have_count(1)
    marker = page.locator("#fleet-map .uc-marker", has_text=vehicle.name)
    playwright_api.expect(marker).to_have_count(1)
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    state = town.provisioned.datastreams[(vehicle.key, "state")]
    town.api("POST", f"/v1.1/Datastreams({state})/Observations",
             json={"phenomenonTime": now, "result": "driving"})
    playwright_api.expect(row.locator("td").nth(1)).to_contain_text("driving")
    before = marker.evaluate("el => el.style.transform")
    lon, lat = town.sim.town.to_lonlat(*vehicle.xy)
    created = httpx.post(f"{town.base}/v1.1/Locations", timeout=60, headers=town.auth, json={
        "name": "fix", "description": "GPS", "encodingType": "application/geo+json",
        "location": {"type": "Point", "coordinates": [lon + 0.004, lat + 0.003]}})
    assert created.status_code == 201, created.text
    location = int(created.headers["location"].rsplit("(", 1)[1].rstrip(")"))
    town.api("PATCH", f"/v1.1/Things({thing})", json={"Locations": [{"@iot.id": location}]})
    page.wait_for_function("([name, before]) => [...document.querySelectorAll('#fleet-map .uc-marker')]"
                           ".some(el => el.textContent.includes(name) && el.style.transform !== before)",
                           arg=[vehicle.name, before])


@pytest.mark.parametrize("language", ["en", "de"])
@pytest.mark.parametrize("route", ["#/lighting", "#/fleet", "#/things/{vehicle}"])
def test_the_lighting_and_fleet_pages_pass_axe(town: Town, page: Any, route: str, language: str) -> None:
    page.add_init_script(f"localStorage.setItem('quartier.lang', '{language}')")
    page.goto(f"{town.base}/{route.format(vehicle=thing_id(town, town.sim.of_kind('vehicle')[0].key))}")
    page.wait_for_selector("main h1")
    page.wait_for_load_state("networkidle")
    if route == "#/lighting":
        page.wait_for_selector("#energy-table")
    if route.startswith("#/things"):
        page.wait_for_selector("#track-map .leaflet-marker-icon")
    violations = axe_violations(page)
    assert violations == [], violations


# -- environment, parking and administration ------------------------------------------------


def test_the_environment_view_rates_every_station(town: Town, page: Any) -> None:
    page.goto(f"{town.base}/#/environment")
    playwright_api.expect(page.locator("h1")).to_have_text("Environment: air quality and traffic")
    stations = page.locator("#stations tbody tr")
    playwright_api.expect(stations).to_have_count(len(town.sim.of_kind("air_quality")))
    first = stations.first
    playwright_api.expect(first.locator("td").first).to_contain_text("µg/m³")
    playwright_api.expect(first.locator("td.rating")).to_contain_text(re.compile("good|moderate|poor"))
    playwright_api.expect(first).to_contain_text("°C")
    assert page.locator("#env-map .place-marker").count() == len(town.sim.of_kind("air_quality"))
    chart = page.locator("#chart-no2")
    playwright_api.expect(chart.locator("canvas")).to_have_count(1)
    assert int(chart.get_attribute("data-points") or 0) >= 1
    counters = page.locator("#counters tbody tr")
    playwright_api.expect(counters).to_have_count(len(town.sim.of_kind("traffic_counter")))
    totals = [int(re.sub(r"\D", "", counters.nth(i).locator(".total").inner_text()))
              for i in range(counters.count())]
    assert sum(totals) > 0
    screenshot(page, "environment")


def test_the_parking_view_shows_each_lot_live(town: Town, page: Any) -> None:
    page.goto(f"{town.base}/#/parking")
    rows = page.locator("#lots tbody tr")
    lots = town.api("GET", "/api/parking/lots")["value"]
    playwright_api.expect(rows).to_have_count(len(lots))
    bays = len(town.sim.of_kind("parking_bay"))
    assert sum(lot["bays"] for lot in lots) == bays
    playwright_api.expect(page.locator("#parking-total")).to_contain_text(f"{bays} bays")
    playwright_api.expect(rows.first.locator(".pct")).to_contain_text("%")
    playwright_api.expect(page.locator("#chart-parking canvas")).to_have_count(1)
    screenshot(page, "parking")
    # A free bay reports a car: its lot's row counts one more occupied, without a reload.
    lot = next(lot for lot in lots if any(state is False for _d, state, _t in lot["bayStates"]))
    bay = next(d for d, state, _t in lot["bayStates"] if state is False)
    row = page.locator(f"tr[data-lot='{lot['lot']}']")
    playwright_api.expect(row.locator(".occupied")).to_have_text(str(lot["occupied"]))
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    town.api("POST", f"/v1.1/Datastreams({bay})/Observations", json={"phenomenonTime": now, "result": True})
    playwright_api.expect(row.locator(".occupied")).to_have_text(str(lot["occupied"] + 1))
    playwright_api.expect(row.locator(".free")).to_have_text(str(lot["free"] - 1))


def test_a_rule_is_created_in_administration_and_a_bad_one_is_explained(town: Town, page: Any) -> None:
    page.goto(f"{town.base}/#/admin/rules")
    playwright_api.expect(page.locator("h1")).to_have_text("Administration: Rules")
    box = page.get_by_label("Rule (JSON)")
    box.fill('{"name": "test-no2", "severity": "moderate", "target": {"observedProperty": {"name": "NO2"}},'
             ' "condition": {"type": "threshold", "above": 180}}')
    page.get_by_role("button", name="Create rule").click()
    row = page.locator("#rules tr[data-rule='test-no2']")
    playwright_api.expect(row).to_have_count(1)
    playwright_api.expect(row.locator(".state")).to_have_text("● enabled")
    assert town.api("GET", "/api/rules/test-no2")["condition"]["above"] == 180
    row.get_by_role("button", name="Disable: test-no2").click()
    disabled = page.locator("#rules tr[data-rule='test-no2']")
    playwright_api.expect(disabled).to_have_attribute("data-enabled", "false")
    # A rule the server refuses: its message, tied to the field, and nothing created.
    bad = {"name": "test-kaputt", "target": {"observedProperty": {"name": "NO2"}},
           "condition": {"type": "sometimes"}}
    refused = httpx.post(f"{town.base}/api/rules", json=bad, timeout=60, headers=town.auth)
    assert refused.status_code == 400
    box.fill(json.dumps(bad))
    page.get_by_role("button", name="Create rule").click()
    error = page.locator("#rule-json-error")
    playwright_api.expect(error).to_have_text(f"⚠ {refused.json()['message']}")
    assert box.get_attribute("aria-invalid") == "true"
    assert "rule-json-error" in (box.get_attribute("aria-describedby") or "")
    assert page.locator("#rules tr[data-rule='test-kaputt']").count() == 0
    screenshot(page, "admin")
    assert axe_violations(page) == []
    box.fill("{kaputt")
    page.get_by_role("button", name="Create rule").click()
    playwright_api.expect(error).to_contain_text("not valid JSON")
    town.api("DELETE", "/api/rules/test-no2")


def test_devices_are_registered_in_administration(town: Town, page: Any) -> None:
    page.goto(f"{town.base}/#/admin/devices")
    profile = page.locator("#profiles tbody tr[data-profile='demo-parking-bay']")
    playwright_api.expect(profile).to_have_count(1)
    page.get_by_label("DevEUI", exact=True).fill("nicht-hex")
    page.get_by_label("Name", exact=True).fill("Stellplatz Test 1")
    page.get_by_label("Device profile", exact=True).select_option("demo-parking-bay")
    page.get_by_label("Latitude").fill("50,4131")
    page.get_by_label("Longitude").fill("8.9418")
    page.get_by_role("button", name="Register", exact=True).click()
    eui_error = page.locator("#dev-eui-error")
    playwright_api.expect(eui_error).to_contain_text("16 hexadecimal digits")
    page.get_by_label("DevEUI", exact=True).fill("70B3D57ED00FF001")
    page.get_by_role("button", name="Register", exact=True).click()
    playwright_api.expect(page.locator("#register-device [role=status]")).to_contain_text("70B3D57ED00FF001")
    device = town.api("GET", "/api/devices/70B3D57ED00FF001")
    thing = town.api("GET", f"/v1.1/Things({device['thingId']})?$expand=Locations")
    assert thing["Locations"][0]["location"]["coordinates"] == [8.9418, 50.4131]
    # Many from a CSV file, then both found by the search.
    csv = "devEui;name;profile\n70B3D57ED00FF002;Stellplatz Test 2;demo-parking-bay\n" \
          "70B3D57ED00FF003;Stellplatz Test 3;demo-parking-bay\n"
    page.get_by_label("CSV file").set_input_files(files=[{"name": "bays.csv", "mimeType": "text/csv",
                                                           "buffer": csv.encode()}])
    page.get_by_role("button", name="Upload and register").click()
    playwright_api.expect(page.locator("#register-csv [role=status]")).to_contain_text("2 devices registered")
    page.get_by_label("Search by name or DevEUI").fill("stellplatz test")
    playwright_api.expect(page.locator("#devices tbody tr")).to_have_count(3)
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete: Stellplatz Test 3").click()
    playwright_api.expect(page.locator("#devices tbody tr")).to_have_count(2)


def test_a_channel_is_created_and_its_deliveries_shown(town: Town, page: Any) -> None:
    page.goto(f"{town.base}/#/admin/channels")
    page.get_by_label("Name", exact=True).fill("test-leitstelle")
    page.get_by_label("Type").select_option("webhook")
    page.get_by_label("URL").fill("ftp://falsch")
    page.get_by_role("button", name="Create channel").click()
    playwright_api.expect(page.locator("#chan-target-error")).to_contain_text("url must be")
    page.get_by_label("URL").fill("https://leitstelle.example/hook")
    page.get_by_role("button", name="Create channel").click()
    playwright_api.expect(page.locator("#chan-status")).to_contain_text("secret")
    row = page.locator("#channels tr[data-channel='test-leitstelle']")
    playwright_api.expect(row).to_contain_text("https://leitstelle.example/hook")
    row.get_by_role("button", name="Deliveries: test-leitstelle").click()
    playwright_api.expect(page.locator("#deliveries-box")).to_contain_text("test-leitstelle")
    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Delete: test-leitstelle").click()
    playwright_api.expect(row).to_have_count(0)


def test_the_navigation_shows_the_views_the_tenant_chose(town: Town, page: Any) -> None:
    town.api("PUT", "/api/dashboard/views", json={"views": ["lighting", "fleet"]})
    try:
        page.goto(f"{town.base}/")
        nav = page.locator("nav[aria-label] li")
        playwright_api.expect(nav.filter(has=page.locator("a[data-route=flood]"))).to_be_hidden()
        playwright_api.expect(nav.filter(has=page.locator("a[data-route=parking]"))).to_be_hidden()
        for route in ("map", "alerts", "lighting", "fleet", "admin"):
            playwright_api.expect(nav.filter(has=page.locator(f"a[data-route={route}]"))).to_be_visible()
    finally:
        town.api("PUT", "/api/dashboard/views", json={"views": None})
    page.reload()  # the choice is read when the dashboard loads
    playwright_api.expect(page.locator("nav a[data-route=flood]")).to_be_visible()
