"""Sharing: towns grant a region tenant (a district) read access to chosen Things or
Datastreams. The region's root reads exactly what was granted, with ids unchanged, and
writes nothing; revoking a grant hides it again; nobody else sees shared data."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from click.testing import CliRunner

from conftest import (
    Api,
    TestClient,
    create_tenant,
    datastream_body,
    full_thing_body,
    observed_property_body,
    sensor_body,
)
from quartier.cli import main
from quartier.settings import Settings
from quartier.store import open_store

REGION = "/t/kreis/v1.1"


def create_region(settings: Settings, name: str) -> None:
    async def run() -> None:
        store = open_store(settings)
        await store.open()
        try:
            await store.create_tenant(name, region=True)
        finally:
            await store.close()

    asyncio.run(run())


def _town(api: Api, name: str) -> dict[str, int]:
    """A Thing with two Datastreams (one Observation each); their ids."""
    body = full_thing_body(f"Pegel {name}")
    body["Datastreams"].append(datastream_body(f"Temperatur {name}", Sensor=sensor_body(f"Thermo {name}"),
                                               ObservedProperty=observed_property_body(f"Temp {name}")))
    thing = api.create("Things", body)
    streams = [d["@iot.id"] for d in api.ok(f"Things({thing})/Datastreams", **{"$orderby": "id"})["value"]]
    observations = [api.create(f"Datastreams({ds})/Observations",
                               {"result": i, "phenomenonTime": "2026-01-01T00:00:00Z"})
                    for i, ds in enumerate(streams)]
    return {"thing": thing, "ds1": streams[0], "ds2": streams[1], "obs1": observations[0],
            "obs2": observations[1]}


def _grant(client: TestClient, prefix: str, kind: str, entity_id: int) -> int:
    response = client.post(f"{prefix}/api/grants",
                           json={"region": "kreis", "entityType": kind, "entityId": entity_id})
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def _ids(region: Api, path: str, **params: Any) -> list[int]:
    return sorted(e["@iot.id"] for e in region.ok(path, **params)["value"])


def test_a_region_reads_what_was_granted_and_nothing_else(settings: Settings, client: TestClient) -> None:
    create_tenant(settings, "nord")
    create_region(settings, "kreis")
    south, north, region = Api(client), Api(client, "/t/nord/v1.1"), Api(client, REGION)
    s, n = _town(south, "Süd"), _town(north, "Nord")
    assert region.ok("Things")["value"] == []

    whole_thing = _grant(client, "", "Thing", s["thing"])
    one_stream = _grant(client, "/t/nord", "Datastream", n["ds1"])

    assert _ids(region, "Things") == sorted([s["thing"], n["thing"]])
    assert _ids(region, "Datastreams") == sorted([s["ds1"], s["ds2"], n["ds1"]])
    assert _ids(region, "Observations") == sorted([s["obs1"], s["obs2"], n["obs1"]])
    assert region.ok("Observations", **{"$count": "true"})["@iot.count"] == 3
    assert len(region.ok("Sensors")["value"]) == 3 and len(region.ok("Locations")["value"]) == 2
    assert region.ok("FeaturesOfInterest")["value"] == []
    # Ids unchanged; the granted Thing's other Datastream stays hidden, on every path.
    assert region.ok(f"Things({n['thing']})")["@iot.id"] == n["thing"]
    assert _ids(region, f"Things({n['thing']})/Datastreams") == [n["ds1"]]
    assert region.get(f"Datastreams({n['ds2']})").status_code == 404
    assert region.get(f"Datastreams({n['ds2']})/Observations").status_code == 404
    expanded = region.ok(f"Things({n['thing']})", **{"$expand": "Datastreams($count=true)"})
    assert [d["@iot.id"] for d in expanded["Datastreams"]] == [n["ds1"]]
    assert expanded["Datastreams@iot.count"] == 1
    hidden = "Temperatur Nord"
    assert region.ok("Things", **{"$filter": f"Datastreams/name eq '{hidden}'"})["value"] == []
    assert _ids(region, "Things", **{"$filter": "Datastreams/name eq 'Level'"}) == sorted(
        [s["thing"], n["thing"]])
    assert _ids(region, "Observations", **{"$filter": "Datastream/Thing/name eq 'Pegel Nord'"}) == [n["obs1"]]
    assert region.ok("Observations", **{"$resultFormat": "dataArray"})["value"]

    # Shared data stays invisible to the other member and to the default tenant.
    assert north.get(f"Things({s['thing']})").status_code == 404
    assert south.get(f"Datastreams({n['ds1']})").status_code == 404

    # The region writes nothing.
    writes = [
        ("POST", "Things", {"name": "x", "description": "y"}),
        ("PATCH", f"Things({s['thing']})", {"name": "x"}),
        ("DELETE", f"Observations({s['obs1']})", None),
        ("POST", f"Datastreams({s['ds1']})/Observations", {"result": 1}),
        ("POST", "CreateObservations", [{"Datastream": {"@iot.id": s["ds1"]},
                                         "components": ["result"], "dataArray": [[1]]}]),
    ]
    for method, path, body in writes:
        response = client.request(method, f"{REGION}/{path}", json=body)
        assert response.status_code == 405, (method, path, response.text)
        assert set(response.json()) >= {"code", "message"}
    batch = client.post(f"{REGION}/$batch", json={"requests": [
        {"id": "1", "method": "POST", "url": f"Datastreams({s['ds1']})/Observations",
         "body": {"result": 1}}]})
    assert batch.status_code == 200 and batch.json()["responses"][0]["status"] == 405
    assert south.ok(f"Datastreams({s['ds1']})/Observations", **{"$count": "true"})["@iot.count"] == 1

    # Revoking hides it again.
    assert client.delete(f"/t/nord/api/grants/{one_stream}").status_code == 204
    assert _ids(region, "Things") == [s["thing"]]
    assert region.get(f"Observations({n['obs1']})").status_code == 404
    assert client.delete(f"/api/grants/{whole_thing}").status_code == 204
    assert region.ok("Things")["value"] == [] and region.ok("Observations")["value"] == []


def test_grants_are_checked(settings: Settings, client: TestClient) -> None:
    create_tenant(settings, "nord")
    create_region(settings, "kreis")
    south, north = Api(client), Api(client, "/t/nord/v1.1")
    s, n = _town(south, "Süd"), _town(north, "Nord")

    def post(prefix: str, body: Any) -> Any:
        return client.post(f"{prefix}/api/grants", json=body)

    grant = {"region": "kreis", "entityType": "Thing", "entityId": s["thing"]}
    assert post("/t/nord", grant).status_code == 404  # not its Thing
    assert post("", {**grant, "region": "nord"}).status_code == 400  # not a region
    assert post("", {**grant, "entityType": "Sensor"}).status_code == 400
    assert post("", {**grant, "entityId": "7"}).status_code == 400
    assert post("", {**grant, "extra": 1}).status_code == 400
    assert post("", [grant]).status_code == 400
    made = post("", grant)
    assert made.status_code == 201
    assert post("", grant).status_code == 409
    grant_id = made.json()["id"]
    assert client.get("/api/grants").json()["value"] == [made.json()]
    assert client.get("/t/nord/api/grants").json()["value"] == []
    assert client.get(f"/t/nord/api/grants/{grant_id}").status_code == 404
    assert client.delete(f"/t/nord/api/grants/{grant_id}").status_code == 404
    assert client.get(f"/api/grants/{grant_id}").json()["entityId"] == s["thing"]
    assert n["thing"] != s["thing"]


def test_grant_cli(settings: Settings) -> None:
    args = ["--data-dir", str(settings.data_dir)]
    if settings.database:
        args += ["--database", settings.database]
    runner = CliRunner()
    created = runner.invoke(main, ["tenant", "create", "kreis", "--region", *args])
    assert created.exit_code == 0, created.output
    assert "region tenant kreis" in created.output
    with TestClient(__import__("conftest").make_app(settings), raise_server_exceptions=False) as client:
        thing = Api(client).create("Things", full_thing_body())
    granted = runner.invoke(main, ["tenant", "grant", "default", "kreis", "--thing", str(thing), *args])
    assert granted.exit_code == 0, granted.output
    listed = runner.invoke(main, ["tenant", "grants", "default", *args])
    assert listed.output.split() == ["1", "kreis", f"Thing({thing})"]
    assert runner.invoke(main, ["tenant", "grant", "default", "kreis", *args]).exit_code == 2
    revoked = runner.invoke(main, ["tenant", "revoke", "default", "1", *args])
    assert revoked.exit_code == 0, revoked.output
    assert runner.invoke(main, ["tenant", "grants", "default", *args]).output == ""


pytestmark = pytest.mark.filterwarnings("error")
