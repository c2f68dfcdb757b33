"""Device credentials: a key bound to one Thing adds Observations there and does nothing else."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner

from conftest import AnonymousClient, TestClient, create_tenant, full_thing_body, make_app
from quartier.cli import main
from quartier.settings import Settings

BOTH = pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
OBSERVATION = {"phenomenonTime": "2026-11-22T10:00:00Z", "result": 3}


@pytest.fixture
def town(settings: Settings) -> Iterator[tuple[TestClient, AnonymousClient]]:
    """An admin client, and a device client of Thing 1 (Datastream 1); Thing 2 has
    Datastream 2, and each Datastream one Observation."""
    app = make_app(settings)
    with TestClient(app, raise_server_exceptions=False) as admin:
        for name in ("Pegel Mühlbach", "Pegel Auwald"):
            assert admin.post("/v1.1/Things", json=full_thing_body(name)).status_code == 201
        for ds in (1, 2):
            assert admin.post(f"/v1.1/Datastreams({ds})/Observations", json=OBSERVATION).status_code == 201
        made = admin.post("/api/keys", json={"name": "Pegel Mühlbach LTE", "device": 1})
        assert made.status_code == 201, made.text
        assert made.json()["device"] == 1 and made.json()["key"].startswith(made.json()["prefix"])
        device = AnonymousClient(app, raise_server_exceptions=False)
        device.portal = admin.portal  # the app runs in the admin client's event loop
        device.headers["Authorization"] = f"Bearer {made.json()['key']}"
        yield admin, device


def _counts(admin: TestClient) -> list[int]:
    return [admin.get(f"/v1.1/Datastreams({ds})/Observations", params={"$count": "true"}).json()["@iot.count"]
            for ds in (1, 2)]


def _observations(ds: int, n: int = 1) -> list[dict[str, Any]]:
    return [{"Datastream": {"@iot.id": ds}, "components": ["phenomenonTime", "result"],
             "dataArray": [[f"2026-11-22T1{i}:30:00Z", i] for i in range(n)]}]


@BOTH
def test_a_device_adds_observations_to_its_own_thing_by_every_ingest_path(town: Any) -> None:
    admin, device = town
    answer = device.post("/v1.1/Datastreams(1)/Observations", json=OBSERVATION)
    assert answer.status_code == 201, answer.text
    assert device.post("/v1.1/Observations",
                       json={**OBSERVATION, "Datastream": {"@iot.id": 1}}).status_code == 201
    assert device.post("/v1.1/CreateObservations", json=_observations(1, 3)).status_code == 201
    batch = {"requests": [{"id": "a", "method": "post", "url": "Datastreams(1)/Observations",
                           "body": OBSERVATION, "atomicityGroup": "g"}]}
    answer = device.post("/v1.1/$batch", json=batch)
    assert answer.status_code == 200 and answer.json()["responses"][0]["status"] == 201, answer.text
    assert _counts(admin) == [1 + 1 + 1 + 3 + 1, 1]
    entries = admin.get("/api/audit", params={"action": "sensorthings.create"}).json()["value"]
    by_device = [e for e in entries if e["principal"].startswith("device:qk_")]
    assert len(by_device) == 4 and {e["principal_name"] for e in by_device} == {"Pegel Mühlbach LTE"}


@BOTH
def test_a_device_is_refused_other_things_and_every_other_write_and_nothing_is_written(town: Any) -> None:
    admin, device = town
    refused = [
        ("POST", "/v1.1/Datastreams(2)/Observations", OBSERVATION),
        ("POST", "/v1.1/Observations", {**OBSERVATION, "Datastream": {"@iot.id": 2}}),
        # One Observation of its own and one of another Thing: the whole request is refused.
        ("POST", "/v1.1/CreateObservations", _observations(1, 2) + _observations(2)),
        ("POST", "/v1.1/Observations", {**OBSERVATION, "Datastream": {"@iot.id": 1},
                                        "FeatureOfInterest": {"name": "f", "description": "d",
                                                              "encodingType": "application/geo+json",
                                                              "feature": {"type": "Point",
                                                                          "coordinates": [7, 50]}}}),
        ("POST", "/v1.1/Things", full_thing_body("Neu")),
        ("PATCH", "/v1.1/Datastreams(1)", {"name": "umbenannt"}),
        ("PATCH", "/v1.1/Observations(1)", {"result": 99}),
        ("DELETE", "/v1.1/Observations(1)", None),
        ("POST", "/api/rules", {}),
        ("POST", "/api/keys", {"name": "mehr", "role": "admin"}),
        ("GET", "/api/keys", None),
        ("GET", "/api/channels", None),
        ("POST", "/api/lighting/commands", {"target": {"thing": 1}, "parameters": {"switch": "on"}}),
    ]
    for method, path, body in refused:
        answer = device.request(method, path, json=body)
        assert answer.status_code == 403, (method, path, answer.text)
        assert answer.json()["code"] == "forbidden"
        assert "device credential" in answer.json()["message"], answer.text
    # In a $batch: an atomic group with a foreign Datastream writes nothing, and a PATCH
    # on its own is refused while the other requests go on.
    batch = {"requests": [
        {"id": "a", "method": "post", "url": "Datastreams(1)/Observations", "body": OBSERVATION,
         "atomicityGroup": "g"},
        {"id": "b", "method": "post", "url": "Datastreams(2)/Observations", "body": OBSERVATION,
         "atomicityGroup": "g"},
        {"id": "c", "method": "patch", "url": "Things(1)", "body": {"name": "x"}},
    ]}
    answer = device.post("/v1.1/$batch", json=batch)
    assert answer.status_code == 200, answer.text
    statuses = {r["id"]: r["status"] for r in answer.json()["responses"] if "id" in r}
    assert statuses.get("c") == 403, answer.text
    assert all(status >= 400 for status in statuses.values()), answer.text
    assert _counts(admin) == [1, 1]
    assert admin.get("/v1.1/Things(1)").json()["name"] == "Pegel Mühlbach"
    assert admin.get("/v1.1/Datastreams(1)").json()["name"] == "Level"
    assert admin.get("/v1.1/Things", params={"$count": "true"}).json()["@iot.count"] == 2
    assert [k["name"] for k in admin.get("/api/keys").json()["value"]].count("mehr") == 0


@BOTH
def test_a_device_reads_only_public_data(town: Any) -> None:
    admin, device = town
    assert admin.put("/api/visibility/Things/1", json={"visibility": "internal"}).status_code == 200
    seen = device.get("/v1.1/Things").json()["value"]
    assert [t["@iot.id"] for t in seen] == [2]
    assert device.get("/v1.1/Things(1)").status_code == 404
    # It may still add Observations to its own internal Thing, and read nothing back.
    assert device.post("/v1.1/Datastreams(1)/Observations", json=OBSERVATION).status_code == 201
    assert _counts(admin) == [2, 1]


@BOTH
def test_device_credentials_are_checked_when_made_and_listed(town: Any, settings: Settings) -> None:
    admin, _device = town
    create_tenant(settings, "nachbar")  # Thing 1 is the default tenant's, not the neighbour's
    other = admin.post("/t/nachbar/api/keys", json={"name": "x", "device": 1})
    assert other.status_code == 400 and "no Thing" in other.json()["message"], other.text
    assert [k["name"] for k in admin.get("/t/nachbar/api/keys").json()["value"]] == ["tests"]
    before = admin.get("/api/keys").json()["value"]
    for body in ({"name": "x", "device": 999}, {"name": "x", "device": "1"},
                 {"name": "x", "device": True}, {"name": "x", "device": 1, "role": "admin"},
                 {"name": "x", "device": 1, "scopes": ["rules"]}, {"device": 1}):
        answer = admin.post("/api/keys", json=body)
        assert answer.status_code == 400, (body, answer.text)
        assert answer.json()["code"] == "bad_request"
    assert admin.get("/api/keys").json()["value"] == before
    listed = [k for k in before if k["name"] == "Pegel Mühlbach LTE"]
    assert len(listed) == 1 and listed[0]["device"] == 1 and "key" not in listed[0]
    assert {k["device"] for k in before if k["name"] != "Pegel Mühlbach LTE"} == {None}
    revoked = admin.delete(f"/api/keys/{listed[0]['id']}")
    assert revoked.status_code == 200 and revoked.json()["device"] == 1


@BOTH
def test_a_revoked_device_credential_writes_nothing(town: Any) -> None:
    admin, device = town
    (made,) = [k for k in admin.get("/api/keys").json()["value"] if k["device"] == 1]
    assert admin.delete(f"/api/keys/{made['id']}").status_code == 200
    time.sleep(2.1)  # the key book's cache (CACHE_SECONDS) lets a revocation take this long
    assert device.post("/v1.1/Datastreams(1)/Observations", json=OBSERVATION).status_code == 401
    assert _counts(admin) == [1, 1]


@pytest.mark.parametrize("backend", ["sqlite"])
def test_the_command_line_makes_device_credentials(settings: Settings, tmp_path: Any) -> None:
    app = make_app(settings)
    with TestClient(app) as admin:
        assert admin.post("/v1.1/Things", json=full_thing_body()).status_code == 201
    runner = CliRunner()
    data = ["--data-dir", str(settings.data_dir)]
    made = runner.invoke(main, ["key", "create", "--device", "1", "--name", "Zähler", *data])
    assert made.exit_code == 0, made.output
    assert "device credential of Thing 1" in made.output
    listed = runner.invoke(main, ["key", "list", *data])
    assert "device:1\tZähler" in listed.output
    both = runner.invoke(main, ["key", "create", "--device", "1", "--role", "admin", "--name", "x", *data])
    assert both.exit_code != 0 and "either --role" in both.output
    missing = runner.invoke(main, ["key", "create", "--device", "7", "--name", "x", *data])
    assert missing.exit_code != 0 and "no Thing with @iot.id 7" in missing.output
