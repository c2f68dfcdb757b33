"""Device profiles, the device registry and integrations, on every backend."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conftest import Api, TestClient, create_tenant, make_app
from lorawan_fixtures import DEV_EUI, device, gauge_profile, tracker_profile
from quartier.settings import Settings


def error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert {"code", "message"} <= set(body) and body["message"], body
    return dict(body)


def count(client: TestClient, path: str) -> int:
    return int(client.get(f"/v1.1/{path}", params={"$count": "true", "$top": "0"}).json()["@iot.count"])


# -- profiles ---------------------------------------------------------------------------------


def test_a_profile_makes_its_sensor_and_observed_properties_once(client: TestClient) -> None:
    created = client.post("/api/device-profiles", json=gauge_profile())
    assert created.status_code == 201, created.text
    body = created.json()
    assert created.headers["location"].endswith("/api/device-profiles/pegel-ldds75")
    assert body["decoder"] == "dragino-ldds75"
    assert set(body["fields"]) == {"distance", "batteryVoltage"}
    sensor = client.get(f"/v1.1/Sensors({body['sensorId']})").json()
    assert sensor["name"] == "Dragino LDDS75"
    distance = client.get(f"/v1.1/ObservedProperties({body['observedPropertyIds']['distance']})").json()
    assert distance["definition"] == "http://example.org/def/distance"
    # A second profile with an ObservedProperty of the same definition reuses it.
    other = gauge_profile("pegel-zwei")
    second = client.post("/api/device-profiles", json=other).json()
    assert second["observedPropertyIds"] == body["observedPropertyIds"]
    assert count(client, "ObservedProperties") == 2
    assert [p["name"] for p in client.get("/api/device-profiles").json()["value"]] == [
        "pegel-ldds75", "pegel-zwei"]
    assert client.get("/api/device-profiles/pegel-zwei").json()["sensorId"] == second["sensorId"]


@pytest.mark.parametrize(("change", "words"), [
    ({"name": "has space"}, "name must be"),
    ({"decoder": "no-such-decoder"}, "no-such-decoder"),
    ({"fields": {}}, "fields must be"),
    ({"fields": {"x": {"unitOfMeasurement": {"name": "m", "symbol": "m", "definition": "u"}}}},
     "fields.x.observedProperty"),
    ({"fields": {"x": {"observedProperty": {"name": "X"}, "unitOfMeasurement": "metre"}}},
     "fields.x"),
    ({"fields": {"x": {"observedProperty": {"name": "X"}, "colour": "red"}}}, "colour"),
    ({"position": {"latitude": "lat"}}, "position"),
    ({"sensor": {"encodingType": 7}}, "encodingType"),
    ({"owner": "me"}, "owner"),
])
def test_a_bad_profile_is_a_400_that_says_why(client: TestClient, change: dict[str, Any],
                                              words: str) -> None:
    body = error(client.post("/api/device-profiles", json={**gauge_profile(), **change}), 400)
    assert words in body["message"]
    assert client.get("/api/device-profiles").json()["value"] == []
    assert count(client, "Sensors") == 0


def test_profile_names_are_unique_and_used_profiles_stay(client: TestClient) -> None:
    assert client.post("/api/device-profiles", json=gauge_profile()).status_code == 201
    error(client.post("/api/device-profiles", json=gauge_profile()), 409)
    assert count(client, "Sensors") == 1  # the refused one made nothing
    assert client.post("/api/devices", json=device()).status_code == 201
    assert "delete them first" in error(client.delete("/api/device-profiles/pegel-ldds75"), 409)["message"]
    assert client.delete(f"/api/devices/{DEV_EUI}").status_code == 204
    assert client.delete("/api/device-profiles/pegel-ldds75").status_code == 204
    error(client.get("/api/device-profiles/pegel-ldds75"), 404)
    error(client.delete("/api/device-profiles/pegel-ldds75"), 404)


# -- devices ----------------------------------------------------------------------------------


def test_registering_a_device_makes_its_thing_and_datastreams(client: TestClient) -> None:
    profile = client.post("/api/device-profiles", json=gauge_profile()).json()
    created = client.post("/api/devices", json=device(eui="70-b3-d5-7e-d0-00-12-34",
                                                      properties={"district": "Nord"}))
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["devEui"] == DEV_EUI and body["profile"] == "pegel-ldds75"
    thing = client.get(f"/v1.1/Things({body['thingId']})",
                       params={"$expand": "Locations,Datastreams($expand=Sensor,ObservedProperty)"}).json()
    assert thing["name"] == "Pegel Mühlbach"
    assert thing["properties"] == {"district": "Nord", "devEui": DEV_EUI, "deviceProfile": "pegel-ldds75"}
    assert thing["Locations"][0]["location"] == {"type": "Point", "coordinates": [7.1, 50.7]}
    streams = {ds["properties"]["field"]: ds for ds in thing["Datastreams"]}
    assert set(streams) == {"distance", "batteryVoltage"}
    assert {k: v["@iot.id"] for k, v in streams.items()} == body["datastreams"]
    assert streams["distance"]["unitOfMeasurement"]["symbol"] == "mm"
    assert streams["distance"]["name"] == "Pegel Mühlbach Distance to water"
    assert streams["distance"]["Sensor"]["@iot.id"] == profile["sensorId"]
    assert streams["batteryVoltage"]["ObservedProperty"]["@iot.id"] == \
        profile["observedPropertyIds"]["batteryVoltage"]
    assert client.get(f"/api/devices/{DEV_EUI.lower()}").json() == body
    listing = client.get("/api/devices").json()
    assert listing["total"] == 1 and listing["value"] == [body]


@pytest.mark.parametrize(("body", "status", "words"), [
    (device(eui="70B3D57ED00012"), 400, "16 hexadecimal digits"),
    (device(eui="70B3D57ED000123G"), 400, "16 hexadecimal digits"),
    (device(name=""), 400, "name"),
    (device(profile="unknown"), 422, "no device profile 'unknown'"),
    (device(location={"latitude": 95, "longitude": 7}), 400, "no position"),
    (device(location="Rathaus"), 400, "location"),
    (device(colour="red"), 400, "colour"),
    ([device(), device()], 400, "more than once"),
    ([], 400, "empty"),
    ("device", 400, "JSON object"),
])
def test_a_bad_device_registers_nothing(client: TestClient, body: Any, status: int, words: str) -> None:
    assert client.post("/api/device-profiles", json=gauge_profile()).status_code == 201
    assert words in error(client.post("/api/devices", json=body), status)["message"]
    assert client.get("/api/devices").json()["total"] == 0
    assert count(client, "Things") == 0 and count(client, "Datastreams") == 0


def test_a_registered_dev_eui_is_a_409_and_changes_nothing(client: TestClient) -> None:
    assert client.post("/api/device-profiles", json=gauge_profile()).status_code == 201
    assert client.post("/api/devices", json=device()).status_code == 201
    batch = [device(eui="70B3D57ED0009999", name="Neu"), device(name="Doppelt")]
    assert DEV_EUI in error(client.post("/api/devices", json=batch), 409)["message"]
    assert count(client, "Things") == 1


def test_five_hundred_devices_from_one_csv_in_one_call(client: TestClient) -> None:
    assert client.post("/api/device-profiles", json=gauge_profile()).status_code == 201
    assert client.post("/api/device-profiles", json=tracker_profile()).status_code == 201
    lines = ["DevEUI;Name;Profile;Latitude;Longitude;district"]
    for n in range(500):
        profile = "tracker" if n % 10 == 0 else "pegel-ldds75"
        lines.append(f"70B3D57ED00{n:05X};Gerät {n};{profile};50,{700 + n};7,{100 + n};Bezirk {n % 4}")
    response = client.post("/api/devices", content="\n".join(lines).encode(),
                           headers={"content-type": "text/csv"})
    assert response.status_code == 201, response.text[:500]
    assert response.json()["registered"] == 500
    assert count(client, "Things") == 500
    assert count(client, "Datastreams") == 450 * 2 + 50 * 2
    assert count(client, "Locations") == 500
    one = client.get("/api/devices/70B3D57ED00001F3").json()  # n = 499
    thing = client.get(f"/v1.1/Things({one['thingId']})", params={"$expand": "Locations"}).json()
    assert thing["name"] == "Gerät 499" and thing["properties"]["district"] == "Bezirk 3"
    assert thing["Locations"][0]["location"]["coordinates"] == [7.599, 50.1199]
    page = client.get("/api/devices", params={"limit": 1000}).json()
    assert page["total"] == 500 and len(page["value"]) == 500


def test_a_csv_with_bad_lines_names_them_and_registers_nothing(client: TestClient) -> None:
    assert client.post("/api/device-profiles", json=gauge_profile()).status_code == 201
    text = ("devEui,name,profile,latitude,longitude\n"
            "70B3D57ED0000001,Eins,pegel-ldds75,50.7,7.1\n"
            "70B3D57ED000000,Zwei,pegel-ldds75,50.7,7.1\n"
            "70B3D57ED0000003,Drei,pegel-ldds75,fünfzig,7.1\n"
            "70B3D57ED0000001,Vier,pegel-ldds75,50.7,7.1\n"
            "70B3D57ED0000005,Fünf,pegel-ldds75\n")
    body = error(client.post("/api/devices", content=text.encode(),
                             headers={"content-type": "text/csv"}), 422)
    assert [e["line"] for e in body["errors"]] == [3, 4, 5, 6]
    assert "16 hexadecimal" in body["errors"][0]["message"]
    assert "not a number" in body["errors"][1]["message"]
    assert "line 2" in body["errors"][2]["message"]
    assert count(client, "Things") == 0
    missing = error(client.post("/api/devices", content=b"eui,name\n1,2\n",
                                headers={"content-type": "text/csv"}), 400)
    assert "deveui" in missing["message"] and "profile" in missing["message"]
    error(client.post("/api/devices", content=b"\xff\xfe", headers={"content-type": "text/csv"}), 400)
    error(client.post("/api/devices", content=b"<devices/>", headers={"content-type": "text/xml"}), 415)


def test_unknown_devices_are_404s(client: TestClient) -> None:
    error(client.get(f"/api/devices/{DEV_EUI}"), 404)
    error(client.get("/api/devices/not-an-eui"), 404)
    error(client.delete(f"/api/devices/{DEV_EUI}"), 404)
    error(client.get("/api/devices", params={"limit": "x"}), 400)


# -- integrations -----------------------------------------------------------------------------


def test_an_integration_shows_its_secret_once(client: TestClient) -> None:
    created = client.post("/api/lorawan/integrations", json={
        "name": "ttn-stadt", "network": "tts",
        "mqtt": {"url": "mqtt://stadt@ttn:NNSXS.SECRET@127.0.0.1:1884"}})
    assert created.status_code == 201, created.text
    body = created.json()
    assert len(body["secret"]) >= 40
    assert body["webhook"] == "http://testserver/api/lorawan/ttn-stadt/uplink"
    shown = client.get("/api/lorawan/integrations/ttn-stadt").json()
    assert "secret" not in shown and body["secret"] not in str(shown)
    assert "NNSXS.SECRET" not in str(shown)  # the broker password is never shown either
    assert shown["mqtt"] == {"url": "mqtt://stadt@ttn:***@127.0.0.1:1884", "topic": "v3/+/devices/+/up"}
    assert [i["name"] for i in client.get("/api/lorawan/integrations").json()["value"]] == ["ttn-stadt"]
    error(client.post("/api/lorawan/integrations", json={"name": "ttn-stadt", "network": "tts"}), 409)
    assert client.delete("/api/lorawan/integrations/ttn-stadt").status_code == 204
    error(client.get("/api/lorawan/integrations/ttn-stadt"), 404)


@pytest.mark.parametrize(("body", "words"), [
    ({"name": "Stadt", "network": "tts"}, "name"),
    ({"name": "stadt", "network": "lorawan"}, "network"),
    ({"name": "stadt", "network": "tts", "mqtt": {"url": "http://x"}}, "mqtt.url"),
    ({"name": "stadt", "network": "tts", "mqtt": {"topic": "a/#/b"}}, "topic"),
    ({"name": "stadt", "network": "tts", "token": "x"}, "token"),
    (["stadt"], "JSON object"),
])
def test_a_bad_integration_is_a_400(client: TestClient, body: Any, words: str) -> None:
    assert words in error(client.post("/api/lorawan/integrations", json=body), 400)["message"]
    assert client.get("/api/lorawan/integrations").json()["value"] == []


def test_tenants_keep_their_registries_apart(settings: Settings) -> None:
    create_tenant(settings, "nord")
    with TestClient(make_app(settings), raise_server_exceptions=False) as client:
        assert client.post("/t/nord/api/device-profiles", json=gauge_profile()).status_code == 201
        assert client.post("/t/nord/api/devices", json=device()).status_code == 201
        assert client.get("/api/device-profiles").json()["value"] == []
        assert client.get("/api/devices").json()["total"] == 0
        error(client.get(f"/api/devices/{DEV_EUI}"), 404)
        # The default tenant cannot use nord's profile, but may register the same DevEUI.
        error(client.post("/api/devices", json=device()), 422)
        assert Api(client, "/t/nord/v1.1").ok("Things")["value"][0]["name"] == "Pegel Mühlbach"
        assert Api(client).ok("Things")["value"] == []
        error(client.get("/t/sued/api/devices"), 404)


# -- the command line -------------------------------------------------------------------------


def test_devices_import_and_integration_commands(settings: Settings, tmp_path: Path) -> None:
    options = ["--data-dir", str(settings.data_dir)]
    if settings.database:
        options += ["--database", settings.database]
    with TestClient(make_app(settings), raise_server_exceptions=False) as client:
        assert client.post("/api/device-profiles", json=gauge_profile()).status_code == 201
    good = tmp_path / "geraete.csv"
    good.write_text("devEui,name,profile,latitude,longitude\n"
                    "70B3D57ED0000001,Eins,pegel-ldds75,50.7,7.1\n"
                    "70B3D57ED0000002,Zwei,pegel-ldds75,50.8,7.2\n", encoding="utf-8")
    bad = tmp_path / "kaputt.csv"
    bad.write_text("devEui,name,profile\n70B3D57ED0000003,Drei,pegel-ldds75\nxyz,Vier,pegel-ldds75\n",
                   encoding="utf-8")

    def quartier(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "quartier", *args, *options],
                              capture_output=True, text=True, timeout=120)

    refused = quartier("devices", "import", str(bad))
    assert refused.returncode == 1
    assert f"{bad}:3:" in refused.stderr and "no device was registered" in refused.stderr
    done = quartier("devices", "import", str(good))
    assert done.returncode == 0, done.stderr
    assert "registered 2 devices" in done.stdout
    again = quartier("devices", "import", str(good))
    assert again.returncode == 2 and "registered already" in again.stderr
    made = quartier("lorawan", "integration", "stadt", "--network", "chirpstack")
    assert made.returncode == 0, made.stderr
    secret = made.stdout.split("Authorization: Bearer ")[1].strip()
    with TestClient(make_app(settings), raise_server_exceptions=False) as client:
        assert client.get("/api/devices").json()["total"] == 2
        assert client.get("/api/lorawan/integrations/stadt").json()["network"] == "chirpstack"
        refused_up = client.post("/api/lorawan/stadt/uplink", json={}, headers={"authorization": "Bearer x"})
        assert refused_up.status_code == 401
        accepted = client.post("/api/lorawan/stadt/uplink?event=join", json={},
                               headers={"authorization": f"Bearer {secret}"})
        assert accepted.status_code == 202, accepted.text
