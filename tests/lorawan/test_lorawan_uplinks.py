"""Uplinks through the webhooks of The Things Stack and ChirpStack, on every backend:
Observations with their radio metadata, decoding, GPS fixes, duplicates, dead letters."""

from __future__ import annotations

import base64
import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from conftest import TestClient, create_tenant, make_app
from lorawan_fixtures import (
    DEV_EUI,
    chirpstack_uplink,
    device,
    gauge_profile,
    ldds75,
    setup_gauge,
    tracker_profile,
    tts_uplink,
)
from quartier.settings import Settings

URL = "/api/lorawan/stadt/uplink"


def auth(secret: str) -> dict[str, str]:
    return {"authorization": f"Bearer {secret}"}


def observations(client: TestClient, field: str, root: str = "/v1.1") -> list[dict[str, Any]]:
    response = client.get(f"{root}/Observations", params={
        "$filter": f"Datastream/properties/field eq '{field}'", "$orderby": "id",
        "$expand": "FeatureOfInterest"})
    assert response.status_code == 200, response.text
    return list(response.json()["value"])


def total(client: TestClient, path: str = "Observations") -> int:
    return int(client.get(f"/v1.1/{path}", params={"$count": "true", "$top": "0"}).json()["@iot.count"])


def letters(client: TestClient) -> list[dict[str, Any]]:
    return list(client.get("/api/dead-letters").json()["value"])


def test_a_tts_uplink_becomes_observations_with_radio_parameters(client: TestClient) -> None:
    secret = setup_gauge(client)
    response = client.post(URL, json=tts_uplink(decoded={"distance": 1234, "batteryVoltage": 3.366,
                                                         "unmapped": 1}), headers=auth(secret))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["duplicate"] is False and body["devEui"] == DEV_EUI
    assert len(body["Observations"]) == 2
    assert body["Observations"][0].startswith("http://testserver/v1.1/Observations(")
    [distance] = observations(client, "distance")
    assert distance["result"] == 1234
    assert distance["phenomenonTime"] == "2026-11-30T10:00:00.123456Z"
    assert distance["resultTime"] == "2026-11-30T10:00:00.123456Z"
    radio = distance["parameters"]
    assert radio["fCnt"] == 1 and radio["fPort"] == 2 and radio["devAddr"] == "260B1234"
    assert radio["rssi"] == -71 and radio["snr"] == 9.25 and radio["gatewayId"] == "gw-wasserwerk"
    assert radio["gatewayCount"] == 2 and radio["frequency"] == 868100000
    assert radio["spreadingFactor"] == 7 and radio["network"] == "tts"
    # The FeatureOfInterest comes from the device's registered Location.
    assert distance["FeatureOfInterest"]["feature"] == {"type": "Point", "coordinates": [7.1, 50.7]}
    assert observations(client, "batteryVoltage")[0]["result"] == 3.366


def test_without_decoded_fields_the_profile_decoder_reads_the_payload(client: TestClient) -> None:
    secret = setup_gauge(client)
    response = client.post(URL, json=tts_uplink(payload=ldds75(2345, 3366)), headers=auth(secret))
    assert response.status_code == 201, response.text
    assert observations(client, "distance")[0]["result"] == 2345
    assert observations(client, "batteryVoltage")[0]["result"] == 3.366


def test_a_chirpstack_uplink_and_its_other_events(client: TestClient) -> None:
    secret = setup_gauge(client, network="chirpstack")
    body = chirpstack_uplink(obj={"distance": 990, "batteryVoltage": 3.1})
    response = client.post(URL + "?event=up", json=body, headers=auth(secret))
    assert response.status_code == 201, response.text
    [distance] = observations(client, "distance")
    assert distance["result"] == 990
    assert distance["phenomenonTime"] == "2026-11-30T10:00:00.775023Z"
    radio = distance["parameters"]
    assert radio["rssi"] == -84 and radio["snr"] == 8.5 and radio["dataRate"] == 5
    assert radio["frequency"] == 868300000 and radio["network"] == "chirpstack"
    # Decoding by Quartier when ChirpStack sends no object.
    raw = chirpstack_uplink(f_cnt=2, payload=ldds75(1500))
    assert client.post(URL + "?event=up", json=raw, headers=auth(secret)).status_code == 201
    assert [o["result"] for o in observations(client, "distance")] == [990, 1500]
    for event in ("join", "status", "ack", "txack", "log"):
        ignored = client.post(f"{URL}?event={event}", json={"deviceInfo": {}}, headers=auth(secret))
        assert ignored.status_code == 202 and ignored.json() == {"ignored": event}
    assert total(client) == 4 and letters(client) == []


def test_the_same_uplink_twice_is_stored_once(client: TestClient) -> None:
    secret = setup_gauge(client)
    uplink = tts_uplink(f_cnt=41, decoded={"distance": 1000})
    first = client.post(URL, json=uplink, headers=auth(secret))
    second = client.post(URL, json=uplink, headers=auth(secret))
    assert first.status_code == 201 and second.status_code == 200, second.text
    assert second.json() == {"devEui": DEV_EUI, "duplicate": True, "Observations": []}
    # The next frame counter is new; after a rejoin (new session) frame 41 is new again.
    assert client.post(URL, json=tts_uplink(f_cnt=42, decoded={"distance": 1001}),
                       headers=auth(secret)).status_code == 201
    rejoined = tts_uplink(f_cnt=41, decoded={"distance": 1002}, session="BQAAAAAAAAAAAAAAAAAAAA==")
    assert client.post(URL, json=rejoined, headers=auth(secret)).status_code == 201
    assert [o["result"] for o in observations(client, "distance")] == [1000, 1001, 1002]
    assert letters(client) == []


def test_concurrent_deliveries_of_one_uplink_store_it_once(client: TestClient) -> None:
    secret = setup_gauge(client, network="chirpstack")
    body = chirpstack_uplink(obj={"distance": 777}, dedup="0f5b5b43-1c55-4e58-8e4b-6a4a4bb0c0de")
    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(lambda _: client.post(URL, json=body, headers=auth(secret)).status_code,
                              range(16)))
    assert sorted(codes) == [200] * 15 + [201]
    assert [o["result"] for o in observations(client, "distance")] == [777]


def test_webhooks_need_the_integrations_secret(client: TestClient) -> None:
    secret = setup_gauge(client)
    uplink = tts_uplink(decoded={"distance": 1})
    for headers in ({}, auth("wrong"), {"authorization": secret}, {"authorization": f"Basic {secret}"}):
        refused = client.post(URL, json=uplink, headers=headers)
        assert refused.status_code == 401 and refused.json()["code"] == "unauthorized"
        assert secret not in refused.text
    unknown = client.post("/api/lorawan/nirgends/uplink", json=uplink, headers=auth(secret))
    assert unknown.status_code == 401  # the same answer: no integration names are revealed
    assert total(client) == 0 and letters(client) == []  # refused requests are no dead letters


@pytest.mark.parametrize(("payload", "status", "words"), [
    (b"{not json", 400, "JSON"),
    (json.dumps(tts_uplink(eui="70B3D57ED0009999", decoded={"distance": 1})).encode(), 422,
     "no device with DevEUI 70B3D57ED0009999"),
    (json.dumps(tts_uplink(payload=b"\x01\x02")).encode(), 422, "cannot read the payload 0102"),
    (json.dumps(tts_uplink(decoded={"temperature": 4})).encode(), 422, "none of the uplink's fields"),
    (json.dumps(tts_uplink(decoded={"distance": "\u0000"})).encode(), 400, "U+0000"),
    (json.dumps({**tts_uplink(), "end_device_ids": {"dev_eui": "xyz"}}).encode(), 400, "dev_eui"),
])
def test_what_cannot_be_stored_is_a_4xx_and_a_dead_letter(
    client: TestClient, payload: bytes, status: int, words: str,
) -> None:
    secret = setup_gauge(client)
    response = client.post(URL, content=payload,
                           headers={**auth(secret), "content-type": "application/json"})
    assert response.status_code == status, response.text
    assert words in response.json()["message"]
    [letter] = letters(client)
    assert letter["source"] == "lorawan:tts:webhook" and letter["address"] == "stadt"
    assert letter["reason"].startswith(f"{status}: ") and words in letter["reason"]
    assert letter["payload"] == payload.decode()
    assert total(client) == 0
    assert client.get("/v1.1/Locations", params={"$count": "true"}).json()["@iot.count"] == 1


def test_a_dead_letter_of_an_unknown_device_is_stored_once_it_is_registered(client: TestClient) -> None:
    secret = setup_gauge(client)
    late = "70B3D57ED0005678"
    assert client.post(URL, json=tts_uplink(eui=late, decoded={"distance": 4321}),
                       headers=auth(secret)).status_code == 422
    [letter] = letters(client)
    again = client.post(f"/api/dead-letters/{letter['id']}/retry")
    assert again.status_code == 422 and "no device" in again.json()["message"]
    assert client.get(f"/api/dead-letters/{letter['id']}").json()["attempts"] == 2
    assert client.post("/api/devices", json=device(eui=late, name="Spät")).status_code == 201
    stored = client.post(f"/api/dead-letters/{letter['id']}/retry")
    assert stored.status_code == 200, stored.text
    assert len(stored.json()["stored"]["Observations"]) == 1
    assert letters(client) == []
    assert [o["result"] for o in observations(client, "distance")] == [4321]


def test_a_gps_fix_moves_the_thing_once_per_new_position(client: TestClient) -> None:
    secret = setup_gauge(client)
    assert client.post("/api/device-profiles", json=tracker_profile()).status_code == 201
    truck = client.post("/api/devices", json={"devEui": "A84041000181C0DE", "name": "Müllwagen 3",
                                              "profile": "tracker"}).json()

    def fix(f_cnt: int, lat: float, lon: float) -> int:
        body = tts_uplink(eui="A84041000181C0DE", f_cnt=f_cnt,
                          decoded={"latitude": lat, "longitude": lon, "altitude": 61.5})
        response = client.post(URL, json=body, headers=auth(secret))
        assert response.status_code == 201, response.text
        return len(response.json()["Observations"])

    assert fix(1, 50.7301, 7.0982) == 2
    assert fix(2, 50.7301, 7.0982) == 2  # standing: no new Location
    assert fix(3, 50.7312, 7.1004) == 2
    thing = client.get(f"/v1.1/Things({truck['thingId']})", params={
        "$expand": "Locations,HistoricalLocations($orderby=id;$expand=Locations)"}).json()
    assert thing["Locations"][0]["location"] == {"type": "Point", "coordinates": [7.1004, 50.7312, 61.5]}
    history = [h["Locations"][0]["location"]["coordinates"][:2] for h in thing["HistoricalLocations"]]
    assert history == [[7.0982, 50.7301], [7.1004, 50.7312]]
    features = [o["FeatureOfInterest"]["feature"]["coordinates"][:2]
                for o in observations(client, "latitude")]
    assert features == [[7.0982, 50.7301], [7.0982, 50.7301], [7.1004, 50.7312]]
    # A tracker without a fix sends zeros: its Location stays, its values are still stored.
    assert fix(4, 0, 0) == 2
    assert len(client.get(f"/v1.1/Things({truck['thingId']})/HistoricalLocations").json()["value"]) == 2


def test_a_tts_location_from_the_payload_moves_the_thing(client: TestClient) -> None:
    secret = setup_gauge(client)
    body = tts_uplink(decoded={"distance": 5})
    body["uplink_message"]["locations"] = {
        "frm-payload": {"latitude": 50.74, "longitude": 7.09, "source": "SOURCE_GPS"}}
    assert client.post(URL, json=body, headers=auth(secret)).status_code == 201
    thing = client.get("/v1.1/Things", params={"$expand": "Locations"}).json()["value"][0]
    assert thing["Locations"][0]["location"]["coordinates"] == [7.09, 50.74]


def test_uplinks_reach_only_their_integrations_tenant(settings: Settings) -> None:
    create_tenant(settings, "nord")
    with TestClient(make_app(settings), raise_server_exceptions=False) as client:
        secret = setup_gauge(client, root="/t/nord")
        # The default tenant has the same DevEUI registered, with its own integration.
        assert client.post("/api/device-profiles", json=gauge_profile()).status_code == 201
        assert client.post("/api/devices", json=device(name="Default-Pegel")).status_code == 201
        uplink = tts_uplink(decoded={"distance": 42})
        # nord's secret opens nord's webhook only
        assert client.post(URL, json=uplink, headers=auth(secret)).status_code == 401
        stored = client.post("/t/nord" + URL, json=uplink, headers=auth(secret))
        assert stored.status_code == 201, stored.text
        assert "/t/nord/v1.1/Observations(" in stored.json()["Observations"][0]
        assert [o["result"] for o in observations(client, "distance", "/t/nord/v1.1")] == [42]
        assert observations(client, "distance") == []


def test_a_device_whose_thing_was_deleted_is_refused_clearly(client: TestClient) -> None:
    secret = setup_gauge(client)
    thing = client.get(f"/api/devices/{DEV_EUI}").json()["thingId"]
    assert client.delete(f"/v1.1/Things({thing})").status_code == 200
    response = client.post(URL, json=tts_uplink(decoded={"distance": 1}), headers=auth(secret))
    assert response.status_code == 422 and "was deleted" in response.json()["message"]


def test_oversized_webhook_bodies_are_refused(client: TestClient, settings: Settings) -> None:
    secret = setup_gauge(client)
    big = base64.b64encode(b"x" * (settings.max_body_bytes + 1)).decode()
    response = client.post(URL, content=big.encode(), headers={**auth(secret),
                                                                "content-type": "application/json"})
    assert response.status_code == 413
    assert total(client) == 0
