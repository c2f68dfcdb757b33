"""The service answers on both backends."""

from conftest import Api, full_thing_body


def test_root_lists_entity_sets(api: Api) -> None:
    body = api.client.get("/v1.1").json()
    assert [e["name"] for e in body["value"]][:2] == ["Things", "Locations"]


def test_deep_insert_then_observation(api: Api) -> None:
    thing = api.create("Things", full_thing_body())
    datastream = api.ok(f"Things({thing})/Datastreams")["value"][0]["@iot.id"]
    obs = api.create(f"Datastreams({datastream})/Observations", {"result": 3.5})
    assert api.ok(f"Observations({obs})")["result"] == 3.5
