"""Random and damaged webhook calls of The Things Stack and ChirpStack, through HTTP.

Each is answered 2xx (stored, a duplicate, or not an uplink) or 4xx in the error shape, never
5xx. As the design says (lorawan/ingest.py), what an authorised webhook sends and cannot be
stored is kept as a dead letter, with its raw bytes; what is stored leaves none.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_uplink_formats import DELETE, JSONISH, changed, paths, sample

from conftest import TestClient, make_app
from lorawan_fixtures import chirpstack_uplink, device, gauge_profile, ldds75, tts_uplink
from quartier.settings import Settings

SAMPLES = ["tts_uplink_gps.json", "tts_uplink_first.json", "chirpstack_up.json", "chirpstack_up_first.json"]


@pytest.fixture(scope="module")
def webhook(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, dict[str, str]]]:
    """An app with the gauge profile, the samples' devices and the fixtures' device, and one
    integration per network; the Authorization header of each."""
    settings = Settings.validated({"data_dir": tmp_path_factory.mktemp("webhook")})
    with TestClient(make_app(settings), raise_server_exceptions=False) as client:
        assert client.post("/api/device-profiles", json=gauge_profile()).status_code == 201
        euis = {"70B3D57ED0001234"}
        for name in SAMPLES:
            body = sample(name)
            ids = body.get("end_device_ids") or body["deviceInfo"]
            euis.add((ids.get("dev_eui") or ids["devEui"]).upper())
        for i, eui in enumerate(sorted(euis)):
            response = client.post("/api/devices", json=device(eui, f"gauge {i}"))
            assert response.status_code == 201, response.text
        auth = {}
        for network in ("tts", "chirpstack"):
            response = client.post("/api/lorawan/integrations", json={"name": network, "network": network})
            assert response.status_code == 201, response.text
            auth[network] = f"Bearer {response.json()['secret']}"
        yield client, auth


@st.composite
def messages(draw: st.DrawFn) -> tuple[str, bytes]:
    """A network and the bytes it sends: a good uplink, a damaged one, any JSON, or junk."""
    network = draw(st.sampled_from(["tts", "chirpstack"]))
    kind = draw(st.integers(0, 4))
    if kind == 4:
        return network, draw(st.binary(max_size=200))
    if kind == 3:
        return network, json.dumps(draw(JSONISH)).encode() if draw(st.booleans()) \
            else draw(st.text(max_size=50)).encode()
    frame = draw(st.integers(0, 2**32 + 1))
    payload = ldds75(draw(st.integers(0, 65535)))
    if kind == 2:
        name = draw(st.sampled_from([n for n in SAMPLES if n.startswith(network[:3])]))
        body: Any = sample(name)
    elif network == "tts":
        body = tts_uplink(f_cnt=frame, payload=payload)
    else:
        body = chirpstack_uplink(f_cnt=frame, payload=payload)
    for _ in range(draw(st.integers(0 if kind else 1, 3))):
        places = list(paths(body))
        if not places:
            break
        body = changed(body, draw(st.sampled_from(places)), draw(st.just(DELETE) | JSONISH))
    # json, not orjson: it writes integers past 64 bits and NaN, which a sender may too
    return network, json.dumps(body).encode()


def _dead_letters(client: TestClient) -> int:
    response = client.get("/api/dead-letters", params={"limit": 1})
    assert response.status_code == 200, response.text
    return int(response.json()["total"])


@settings(max_examples=150, deadline=None, database=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(message=messages(), event=st.sampled_from(["up", "up", "join", "status", ""]))
def test_a_webhook_call_is_stored_ignored_or_refused_and_kept(
    webhook: tuple[TestClient, dict[str, str]], message: tuple[str, bytes], event: str, tmp_path: Path,
) -> None:
    client, auth = webhook
    network, raw = message
    before = _dead_letters(client)
    response = client.post(f"/api/lorawan/{network}/uplink", content=raw, params={"event": event},
                           headers={"Authorization": auth[network], "Content-Type": "application/json"})
    after = _dead_letters(client)
    assert response.status_code in (200, 201, 202) or 400 <= response.status_code < 500, response.text
    body = response.json()
    if response.status_code >= 400:
        assert isinstance(body["code"], str) and isinstance(body["message"], str), body
        assert after == before + 1, (response.status_code, body)
        letter = client.get("/api/dead-letters", params={"offset": after - 1}).json()["value"][0]
        assert letter["reason"].startswith(str(response.status_code)), letter
    else:
        assert after == before, body


def test_an_unauthorised_call_is_refused_and_not_kept(webhook: tuple[TestClient, dict[str, str]]) -> None:
    client, _ = webhook
    before = _dead_letters(client)
    response = client.post("/api/lorawan/tts/uplink", content=b"{}",
                           headers={"Authorization": "Bearer wrong"})
    assert response.status_code == 401 and response.json()["code"]
    assert _dead_letters(client) == before
