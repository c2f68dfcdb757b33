"""Use-case packages on both backends: a town installs the built-in street-lighting and
fleet packages, changes them, exports both; a neighbouring town imports the files and its
own lamp and vehicle work with them (Datastreams, a fault with its work order, a lighting
command's Task, a trip). Bad files are refused with the path of the problem and write
nothing; importing twice creates nothing new; one tenant's import leaves the other alone."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from conftest import TestClient, create_tenant
from lorawan.lorawan_fixtures import tts_uplink
from quartier.settings import Settings
from quartier.usecases.packages.builtin import built_in
from rules.test_rules import alerts, engine_of, wait_for

B = "/t/nachbarort"
LAMP_EUI = "70B3D57ED0100001"
VAN_EUI = "70B3D57ED0400001"
TRUCK_EUI = "70B3D57ED0400002"


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def install(client: TestClient, body: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    report = ok(client.post(f"{prefix}/api/packages", json=body), 201)
    assert client.portal is not None
    client.portal.call(engine_of(client).refresh)
    return dict(report)


def register(client: TestClient, prefix: str, eui: str, name: str, profile: str,
             properties: dict[str, Any]) -> dict[str, Any]:
    device = ok(client.post(f"{prefix}/api/devices", json={
        "devEui": eui, "name": name, "profile": profile, "properties": properties,
        "location": {"latitude": 50.41, "longitude": 8.94}}), 201)
    assert client.portal is not None
    client.portal.call(engine_of(client).refresh)  # its Datastreams join their rules now
    return dict(device)


def webhook(client: TestClient, prefix: str) -> tuple[str, str]:
    """A The Things Stack integration of the tenant: the path its uplinks go to, and its
    secret."""
    made = ok(client.post(f"{prefix}/api/lorawan/integrations", json={"name": "tts", "network": "tts"}), 201)
    return f"{prefix}/api/lorawan/tts/uplink", made["secret"]


def uplink(client: TestClient, hook: tuple[str, str], eui: str, count: int, when: datetime,
           decoded: dict[str, Any]) -> None:
    at = when.astimezone(UTC).isoformat().replace("+00:00", "Z")
    body = tts_uplink(eui, f_cnt=count, decoded=decoded, received_at=at)
    response = client.post(hook[0], json=body, headers={"Authorization": f"Bearer {hook[1]}"})
    assert response.status_code == 201, response.text


def tenant_state(client: TestClient, prefix: str) -> dict[str, Any]:
    """What a package import may change in a tenant, to compare before and after."""
    def names(path: str) -> list[str]:
        return sorted(str(v["name"]) for v in ok(client.get(f"{prefix}{path}"))["value"])

    return {"profiles": names("/api/device-profiles"), "rules": names("/api/rules"),
            "groups": names("/api/lighting/groups"), "schedules": names("/api/lighting/schedules"),
            "packages": names("/api/packages"),
            "observedProperties": ok(client.get(f"{prefix}/v1.1/ObservedProperties",
                                                params={"$count": "true"}))["@iot.count"]}


def test_a_town_shares_its_lighting_and_fleet_with_a_neighbour(settings: Settings,
                                                                client: TestClient) -> None:
    create_tenant(settings, "nachbarort")
    # Town A installs both built-in packages, then changes them to its needs.
    for name in ("street-lighting", "fleet"):
        body = built_in(name)
        assert body is not None
        install(client, body)
    ok(client.patch("/api/rules/strassenbeleuchtung-power", json={"condition": {
        "type": "threshold", "for": "PT30M", "above": {"property": "ratedPower", "factor": 1.5}}}))
    register(client, "", VAN_EUI, "Transporter A", "demo-vehicle-fuel", {"kind": "vehicle"})
    ok(client.put("/api/fleet/retention", json={"days": 30}))
    ok(client.post("/api/lighting/groups", json={"name": "Einzeln", "things": [1]}), 201)
    own = register(client, "", "70B3D57ED0100009", "Leuchte A", "demo-streetlight", {"kind": "streetlight"})
    ok(client.post("/api/rules", json={
        "name": "leuchte-a", "target": {"datastream": own["datastreams"]["power"]},
        "condition": {"type": "threshold", "above": 100}}), 201)
    listed = ok(client.get("/api/packages"))
    assert [(p["name"], p["version"]) for p in listed["value"]] == [("fleet", "1.0.0"),
                                                                    ("street-lighting", "1.0.0")]
    lighting = ok(client.get("/api/packages/street-lighting/export"))
    fleet = ok(client.get("/api/packages/fleet/export"))
    power = next(r for r in lighting["rules"] if r["name"] == "strassenbeleuchtung-power")
    assert power["condition"]["above"]["factor"] == 1.5  # the town's change, not the built-in's
    assert power["target"]["observedProperty"] == {"definition": next(
        p for p in lighting["deviceProfiles"] if p["name"] == "demo-streetlight")["fields"]["power"][
        "observedProperty"]}
    assert any("Einzeln" in line for line in lighting["leftOut"])
    assert any(line.startswith("rule leuchte-a:") for line in lighting["leftOut"])
    assert "leuchte-a" not in [r["name"] for r in lighting["rules"]]
    assert fleet["fleet"] == {"retentionDays": 30}
    before_a = tenant_state(client, "")

    # Town B imports both files.
    first = install(client, lighting, B)
    assert "device profile demo-streetlight" in first["created"]
    assert "rule strassenbeleuchtung-power" in first["created"]
    fleet_report = install(client, fleet, B)
    assert any("retention" in line for line in fleet_report["skipped"])  # no vehicles yet
    assert tenant_state(client, "") == before_a
    imported = tenant_state(client, B)
    assert imported["groups"] == ["Nordring"] and imported["schedules"] == ["nacht"]
    assert imported["packages"] == ["fleet", "street-lighting"]

    lamp = register(client, B, LAMP_EUI, "Leuchte Nachbarort 1", "demo-streetlight",
                    {"kind": "streetlight", "ratedPower": 38, "cabinet": "NK-01"})
    streams = {key: ok(client.get(f"{B}/v1.1/Datastreams({ds})",
                                  params={"$expand": "ObservedProperty"}))
               for key, ds in lamp["datastreams"].items()}
    assert streams["power"]["unitOfMeasurement"]["symbol"] == "W"
    assert streams["energy"]["unitOfMeasurement"]["symbol"] == "kWh"
    assert streams["power"]["ObservedProperty"]["definition"] == power["target"]["observedProperty"][
        "definition"]

    # A lamp that draws 80 W of its rated 38 (more than 1.5 times) for 45 minutes.
    hook = webhook(client, B)
    now = datetime.now(UTC)
    for count, minutes in enumerate((50, 35, 20, 5), start=1):
        uplink(client, hook, LAMP_EUI, count, now - timedelta(minutes=minutes),
               {"state": "on", "dimming": 100, "power": 80.0, "energy": 1.0 + count})
    # (By day a lamp that is on is a fault of its own, strassenbeleuchtung-schedule's.)
    found = wait_for(lambda: [a for a in _alerts(client, B)
                              if a["rule"] == "strassenbeleuchtung-power"], "the power fault")
    assert len(found) == 1 and found[0]["thingId"] == lamp["thingId"]
    assert {a["rule"] for a in _alerts(client, B)} <= {"strassenbeleuchtung-power",
                                                       "strassenbeleuchtung-schedule"}
    orders = wait_for(lambda: [o for o in ok(client.get(f"{B}/api/workorders"))["value"]
                               if o["alertId"] == found[0]["id"]], "its work order")
    assert [o["thingId"] for o in orders] == [lamp["thingId"]]
    assert alerts(client) == []  # town A saw nothing

    # The imported TaskingCapability template made the lamp commandable.
    command = ok(client.post(f"{B}/api/lighting/commands", json={
        "target": {"thing": lamp["thingId"]}, "parameters": {"switch": "off"}}), 201)
    assert [t["thingId"] for t in command["tasks"]] == [lamp["thingId"]]
    task = ok(client.get(f"{B}/v1.1/Tasks({command['tasks'][0]['taskId']})"))
    assert task["taskingParameters"] == {"switch": "off"}

    # A van drives from 06:00 to 06:40 and is back at the depot.
    van = register(client, B, TRUCK_EUI, "Transporter B", "demo-vehicle-fuel", {"kind": "vehicle"})
    day = (now - timedelta(days=2)).date()
    start = datetime(day.year, day.month, day.day, 6, tzinfo=UTC)
    for count, (minutes, state, lat) in enumerate(
            [(0, "driving", 50.40), (10, "driving", 50.41), (25, "driving", 50.42),
             (40, "driving", 50.43), (50, "depot", 50.43)], start=1):
        uplink(client, hook, TRUCK_EUI, count, start + timedelta(minutes=minutes),
               {"state": state, "latitude": lat, "longitude": 8.94, "speed": 30.0, "fuel": 80.0})
    params = {"date": day.isoformat(), "tz": "UTC", "vehicle": van["thingId"]}
    trips = ok(client.get(f"{B}/api/fleet/trips", params=params))["vehicles"][0]["trips"]
    assert [(t["start"][11:16], t["end"][11:16]) for t in trips] == [("06:00", "06:40")]
    report = ok(client.get(f"{B}/api/fleet/report", params={"date": day.isoformat(), "tz": "UTC"}))
    row = next(v for v in report["vehicles"] if v["vehicle"] == van["thingId"])
    assert row["trips"] == 1 and row["distance_km"] > 0

    # Importing both again creates nothing; the retention now finds the vehicle.
    again = install(client, lighting, B)
    assert again["created"] == [] and again["updated"] == []
    again = install(client, fleet, B)
    assert again["created"] == []
    assert any("retention: 30 days on 1 vehicles" in line for line in again["updated"])
    stored = ok(client.get(f"{B}/v1.1/Datastreams({van['datastreams']['latitude']})"))
    assert stored["@iot.id"] == van["datastreams"]["latitude"]
    assert len(ok(client.get(f"{B}/api/rules"))["value"]) == len(lighting["rules"]) + len(fleet["rules"])
    assert tenant_state(client, "") == before_a


def _alerts(client: TestClient, prefix: str) -> list[dict[str, Any]]:
    return list(ok(client.get(f"{prefix}/api/alerts"))["value"])


def _broken(change: str) -> tuple[dict[str, Any], str]:
    body = built_in("street-lighting")
    assert body is not None
    if change == "version":
        body["format"] = 99
        return body, "format"
    if change == "profile":
        body["taskingCapabilities"][0]["profile"] = "no-such-profile"
        return body, "taskingCapabilities[0].profile"
    if change == "record":
        body["taskingCapabilities"][0]["taskingParameters"]["field"][1]["type"] = "Colour"
        return body, "taskingCapabilities[0].taskingParameters.field[1].type"
    if change == "unit":
        body["deviceProfiles"][0]["fields"]["voltage"]["unitOfMeasurement"] = "volt"
        return body, "deviceProfiles[0].fields.voltage"
    if change == "definition":
        body["rules"][1]["target"]["observedProperty"] = {"definition": "urn:nowhere"}
        return body, "rules[1].target.observedProperty"
    if change == "rule":
        silent = [r["name"] for r in body["rules"]].index("strassenbeleuchtung-cabinet-silent")
        body["rules"][silent]["condition"]["after"] = "one hour"
        return body, f"rules[{silent}].condition.after"
    if change == "id":
        body["rules"][0]["target"]["observedProperty"] = 7
        return body, "rules[0].target"
    if change == "schedule":
        body["lighting"]["schedules"][0]["target"] = {"thing": 3}
        return body, "lighting.schedules[0].target"
    if change == "late":  # fine as a file; only the tenant shows it is wrong
        body["rules"][0]["target"]["observedProperty"] = {"name": "Unbekannt"}
        return body, "rules[0].target.observedProperty"
    raise AssertionError(change)


@pytest.mark.parametrize("change", ["version", "profile", "record", "unit", "definition", "rule", "id",
                                    "schedule", "late"])
def test_a_bad_file_is_refused_with_its_path_and_writes_nothing(client: TestClient, change: str) -> None:
    body, path = _broken(change)
    before = tenant_state(client, "")
    response = client.post("/api/packages", json=body)
    assert response.status_code == 400, response.text
    error = response.json()
    assert error["code"] == "bad_request"
    assert error["path"].startswith(path), error
    assert error["message"].startswith(path)
    assert tenant_state(client, "") == before


def test_a_file_that_is_no_json_is_refused(client: TestClient) -> None:
    response = client.post("/api/packages", content=b'{"format": 1, "name": ',
                           headers={"Content-Type": "application/json"})
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "bad_request"
    assert ok(client.get("/api/packages"))["value"] == []


def test_who_may_export_and_import(settings: Settings) -> None:
    from conftest import make_app

    with TestClient(make_app(settings), role="editor", raise_server_exceptions=False) as editor:
        assert editor.get("/api/packages/fleet/export").status_code == 200
        assert editor.post("/api/packages", json=built_in("fleet")).status_code == 403
        assert editor.get("/api/packages/nothing/export").status_code == 404
    with TestClient(make_app(settings), role="viewer", raise_server_exceptions=False) as viewer:
        assert viewer.get("/api/packages/fleet/export").status_code == 403


def test_installed_views_join_a_tenants_chosen_views(client: TestClient) -> None:
    assert ok(client.get("/api/dashboard/views")) == {"views": None}
    ok(client.put("/api/dashboard/views", json={"views": ["map", "alerts"]}))
    body = built_in("fleet")
    assert body is not None
    report = install(client, body)
    assert "dashboard views: fleet shown" in report["updated"]
    assert ok(client.get("/api/dashboard/views")) == {"views": ["map", "alerts", "fleet"]}
    assert client.put("/api/dashboard/views", json={"views": ["kitchen"]}).status_code == 400


def test_a_changed_profile_is_kept_and_reported(client: TestClient) -> None:
    body = built_in("fleet")
    assert body is not None
    install(client, body)
    changed = copy.deepcopy(body)
    changed["deviceProfiles"][0]["description"] = "Another tracker"
    report = install(client, changed)
    assert any(line.startswith("device profile demo-vehicle-charge: the tenant's differs")
               for line in report["skipped"])
    assert ok(client.get("/api/device-profiles/demo-vehicle-charge"))["description"] == (
        body["deviceProfiles"][0]["description"])


def test_the_command_line_exports_and_imports(settings: Settings, tmp_path: Any) -> None:
    from click.testing import CliRunner

    from quartier.cli import main

    create_tenant(settings, "nachbarort")
    args = ["--data-dir", str(settings.data_dir)]
    if settings.database:
        args += ["--database", settings.database]
    runner = CliRunner()
    file = tmp_path / "fleet.json"
    file.write_text(json.dumps(built_in("fleet")))
    assert runner.invoke(main, ["package", "import", str(file), *args]).exit_code == 0
    exported = runner.invoke(main, ["package", "export", "fleet", *args])
    assert exported.exit_code == 0, exported.output
    assert '"name": "fleet"' in exported.output
    file.write_text(exported.output)
    imported = runner.invoke(main, ["package", "import", str(file), "--tenant", "nachbarort", *args])
    assert imported.exit_code == 0, imported.output
    assert "created: device profile demo-vehicle-fuel" in imported.output
    again = runner.invoke(main, ["package", "import", str(file), "--tenant", "nachbarort", *args])
    assert "created:" not in again.output
    file.write_text('{"format": 2}')
    broken = runner.invoke(main, ["package", "import", str(file), *args])
    assert broken.exit_code == 2
    assert "format: this Quartier reads package format 1" in broken.output


def test_a_region_installs_no_package(settings: Settings, client: TestClient) -> None:
    from test_tenant_sharing import create_region

    create_region(settings, "kreis")
    response = client.post("/t/kreis/api/packages", json=built_in("fleet"))
    assert response.status_code == 405, response.text
    assert "read-only" in response.json()["message"]
    assert ok(client.get("/t/kreis/api/packages"))["value"] == []
