"""Bodies for the LoRaWAN tests: a profile, devices, and uplinks as The Things Stack v3 and
ChirpStack v4 send them."""

from __future__ import annotations

import base64
import uuid
from typing import Any

from conftest import TestClient

DEV_EUI = "70B3D57ED0001234"
UNIT_MM = {"name": "millimetre", "symbol": "mm", "definition": "http://qudt.org/vocab/unit/MilliM"}
UNIT_V = {"name": "volt", "symbol": "V", "definition": "http://qudt.org/vocab/unit/V"}
UNIT_DEG = {"name": "degree", "symbol": "°", "definition": "http://qudt.org/vocab/unit/DEG"}


def gauge_profile(name: str = "pegel-ldds75") -> dict[str, Any]:
    """An ultrasonic water-level gauge (Dragino LDDS75) that may also report a GPS fix."""
    return {
        "name": name,
        "description": "Ultrasonic gauge above a river",
        "decoder": "dragino-ldds75",
        "sensor": {
            "name": "Dragino LDDS75",
            "description": "LoRaWAN ultrasonic distance sensor",
            "encodingType": "text/html",
            "metadata": "https://example.org/ldds75",
        },
        "fields": {
            "distance": {
                "name": "Distance to water",
                "observedProperty": {"name": "Distance", "definition": "http://example.org/def/distance"},
                "unitOfMeasurement": UNIT_MM,
            },
            "batteryVoltage": {
                "name": "Battery",
                "observedProperty": {
                    "name": "Battery voltage",
                    "definition": "http://example.org/def/battery",
                },
                "unitOfMeasurement": UNIT_V,
            },
        },
        "position": {"latitude": "latitude", "longitude": "longitude"},
    }


def tracker_profile(name: str = "tracker") -> dict[str, Any]:
    """A GPS tracker on a vehicle: Cayenne LPP, position as Datastreams too."""
    return {
        "name": name,
        "decoder": "cayenne-lpp",
        "fields": {
            "latitude": {"observedProperty": {"name": "Latitude"}, "unitOfMeasurement": UNIT_DEG},
            "longitude": {"observedProperty": {"name": "Longitude"}, "unitOfMeasurement": UNIT_DEG},
        },
        "position": {"latitude": "latitude", "longitude": "longitude", "altitude": "altitude"},
    }


def device(
    eui: str = DEV_EUI, name: str = "Pegel Mühlbach", profile: str = "pegel-ldds75", **more: Any
) -> dict[str, Any]:
    return {
        "devEui": eui,
        "name": name,
        "profile": profile,
        "location": {"latitude": 50.7, "longitude": 7.1},
        **more,
    }


def tts_uplink(
    eui: str = DEV_EUI,
    f_cnt: int = 1,
    decoded: dict[str, Any] | None = None,
    payload: bytes = b"",
    session: str = "AXBSH1Pk6Z3nAT6bzBSsm7Y=",
    received_at: str = "2026-11-30T10:00:00.123456789Z",
) -> dict[str, Any]:
    message: dict[str, Any] = {
        "session_key_id": session,
        "f_port": 2,
        "f_cnt": f_cnt,
        "frm_payload": base64.b64encode(payload).decode(),
        "rx_metadata": [
            {
                "gateway_ids": {"gateway_id": "gw-rathaus", "eui": "B827EBFFFE8B01DD"},
                "rssi": -97,
                "channel_rssi": -97,
                "snr": 4.5,
            },
            {
                "gateway_ids": {"gateway_id": "gw-wasserwerk", "eui": "B827EBFFFE8B01DE"},
                "rssi": -71,
                "channel_rssi": -71,
                "snr": 9.25,
            },
        ],
        "settings": {
            "data_rate": {"lora": {"bandwidth": 125000, "spreading_factor": 7}},
            "frequency": "868100000",
        },
        "received_at": received_at,
        "consumed_airtime": "0.061696s",
    }
    if decoded is not None:
        message["decoded_payload"] = decoded
    return {
        "end_device_ids": {
            "device_id": "pegel-1",
            "application_ids": {"application_id": "stadt"},
            "dev_eui": eui,
            "dev_addr": "260B1234",
        },
        "correlation_ids": [f"as:up:{uuid.uuid4().hex}"],
        "received_at": received_at,
        "uplink_message": message,
    }


def chirpstack_uplink(
    eui: str = DEV_EUI,
    f_cnt: int = 1,
    obj: dict[str, Any] | None = None,
    payload: bytes = b"",
    dedup: str | None = None,
    time: str = "2026-11-30T10:00:00.775023242+00:00",
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "deduplicationId": dedup or str(uuid.uuid4()),
        "time": time,
        "deviceInfo": {
            "tenantId": "52f14cd4-c6f1-4fbd-8f87-4025e1d49242",
            "tenantName": "Stadt",
            "applicationId": "ca739e26-7b67-4f14-b69e-d568c22a5a75",
            "applicationName": "Pegel",
            "deviceProfileName": "LDDS75",
            "deviceName": "pegel-1",
            "devEui": eui.lower(),
        },
        "devAddr": "00189440",
        "adr": True,
        "dr": 5,
        "fCnt": f_cnt,
        "fPort": 2,
        "confirmed": False,
        "data": base64.b64encode(payload).decode(),
        "rxInfo": [
            {
                "gatewayId": "0016c001f153a14c",
                "uplinkId": 4217106255,
                "rssi": -84,
                "snr": 8.5,
                "context": "EFwMtA==",
            }
        ],
        "txInfo": {
            "frequency": 868300000,
            "modulation": {"lora": {"bandwidth": 125000, "spreadingFactor": 7, "codeRate": "CR_4_5"}},
        },
    }
    if obj is not None:
        body["object"] = obj
    return body


def ldds75(distance_mm: int, battery_mv: int = 3366) -> bytes:
    """An LDDS75 uplink on port 2: battery (mV), distance (mm), no interrupt, no probe."""
    return battery_mv.to_bytes(2, "big") + distance_mm.to_bytes(2, "big") + b"\x00" + b"\x7f\xff" + b"\x01"


def setup_gauge(client: TestClient, root: str = "", network: str = "tts") -> str:
    """A gauge profile, one device and an integration ``stadt``; returns the secret."""
    response = client.post(f"{root}/api/device-profiles", json=gauge_profile())
    assert response.status_code == 201, response.text
    response = client.post(f"{root}/api/devices", json=device())
    assert response.status_code == 201, response.text
    response = client.post(f"{root}/api/lorawan/integrations", json={"name": "stadt", "network": network})
    assert response.status_code == 201, response.text
    return str(response.json()["secret"])
