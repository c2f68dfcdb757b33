"""Searching the device registry by name or DevEUI (the administration pages' search)."""

from __future__ import annotations

from conftest import TestClient
from lorawan_fixtures import gauge_profile


def test_devices_are_found_by_name_or_dev_eui(client: TestClient) -> None:
    assert client.post("/api/device-profiles", json=gauge_profile()).status_code == 201
    names = ["Pegel Mühlbach", "PEGEL Schleuse", "Stellplatz 1", "Rate 100%", "a_b"]
    body = [{"devEui": f"70B3D57ED00000{n:02X}", "name": name, "profile": "pegel-ldds75"}
            for n, name in enumerate(names)]
    assert client.post("/api/devices", json=body).status_code == 201

    def found(q: str) -> tuple[int, list[str]]:
        page = client.get("/api/devices", params={"q": q, "limit": 2}).json()
        return page["total"], [d["name"] for d in page["value"]]

    assert found("pegel") == (2, ["Pegel Mühlbach", "PEGEL Schleuse"])
    assert found("MÜHL") == (1, ["Pegel Mühlbach"])
    assert found("ed0000002") == (1, ["Stellplatz 1"])
    assert found("%") == (1, ["Rate 100%"])  # wildcards are plain characters
    assert found("_") == (1, ["a_b"])
    assert found("   ") == (5, ["Pegel Mühlbach", "PEGEL Schleuse"])
    assert found("nichts") == (0, [])
    response = client.get("/api/devices", params={"q": "x" * 201})
    assert response.status_code == 400 and response.json()["code"] == "bad_request"
