"""Tenants: each municipality sees only its own entities, on both backends."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from conftest import Api, TestClient, create_tenant, full_thing_body
from quartier.cli import main
from quartier.errors import BadRequest, Conflict
from quartier.settings import Settings


def test_tenants_are_isolated(settings: Settings, client: TestClient) -> None:
    create_tenant(settings, "nachbarort")
    town, neighbour = Api(client), Api(client, "/t/nachbarort/v1.1")
    thing = town.create("Things", full_thing_body("Stadt"))
    ds = town.ok(f"Things({thing})/Datastreams")["value"][0]["@iot.id"]
    assert neighbour.ok("Things")["value"] == []
    assert neighbour.get(f"Things({thing})").status_code == 404
    assert neighbour.get(f"Datastreams({ds})/Observations").status_code == 404
    # A neighbour cannot write into the town's Datastream, nor link to its Things.
    response = neighbour.post("Observations", {"result": 1, "Datastream": {"@iot.id": ds}})
    assert response.status_code == 400
    assert neighbour.client.delete(neighbour.url(f"Things({thing})")).status_code == 404
    own = neighbour.create("Things", full_thing_body("Nachbar"))
    assert [t["name"] for t in neighbour.ok("Things")["value"]] == ["Nachbar"]
    assert [t["name"] for t in town.ok("Things")["value"]] == ["Stadt"]
    assert neighbour.ok(f"Things({own})")["@iot.selfLink"].startswith(
        "http://testserver/t/nachbarort/v1.1/"
    )
    assert town.ok("Observations")["value"] == []


def test_tenant_names_checked(settings: Settings) -> None:
    create_tenant(settings, "ost")
    with pytest.raises(Conflict):
        create_tenant(settings, "ost")
    with pytest.raises(BadRequest):
        create_tenant(settings, "Not A Name")


def test_tenant_cli(settings: Settings) -> None:
    args = ["--data-dir", str(settings.data_dir)]
    if settings.database:
        args += ["--database", settings.database]
    runner = CliRunner()
    created = runner.invoke(main, ["tenant", "create", "sued", *args])
    assert created.exit_code == 0, created.output
    assert "/t/sued/v1.1" in created.output
    again = runner.invoke(main, ["tenant", "create", "sued", *args])
    assert again.exit_code == 2
    listed = runner.invoke(main, ["tenant", "list", *args])
    assert listed.output.split() == ["default", "sued"]
