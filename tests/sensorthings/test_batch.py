"""``POST $batch`` end to end, on both backends: JSON batches (OData JSON 4.01), multipart/mixed
batches (OData 4.0, SensorThings 1.1 §11), atomicity groups, ``$N`` references and ``dependsOn``.

The wire formats alone are unit-tested in tests/test_batch_format.py; here every request goes
through the app, and every write is checked by reading back through the API.
"""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from email.message import Message
from typing import Any

import orjson
import pytest

from conftest import (
    Api,
    TestClient,
    create_tenant,
    datastream_body,
    location_body,
    make_app,
    observed_property_body,
    sensor_body,
    thing_body,
)
from quartier.model.entities import ENTITY_SETS as entity_sets
from quartier.settings import Settings

ENTITY_SETS = tuple(entity_sets)  # every entity set, in the model's order
MISSING_ID = 999999
JSON_PATCH = {"Content-Type": "application/json-patch+json"}
FAILED_DEPENDENCY = 424


# -- helpers ---------------------------------------------------------------------------


def send_batch(api: Api, requests: list[dict[str, Any]]) -> Any:
    return api.client.post(api.url("$batch"), json={"requests": requests})


def run_batch(api: Api, requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Send a JSON batch that must be accepted; return its responses, in order."""
    response = send_batch(api, requests)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    responses = response.json()["responses"]
    assert isinstance(responses, list)
    return responses


def by_id(responses: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {item["id"]: item for item in responses}


def req(ident: str, method: str, url: str, body: Any = None, *, group: str | None = None,
        depends: list[str] | None = None, headers: dict[str, str] | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {"id": ident, "method": method, "url": url}
    if body is not None:
        item["body"] = body
    if group is not None:
        item["atomicityGroup"] = group
    if depends is not None:
        item["dependsOn"] = depends
    if headers is not None:
        item["headers"] = headers
    return item


def assert_error_shape(body: Any) -> None:
    assert isinstance(body, dict), body
    assert isinstance(body.get("code"), str), body
    assert body["code"], body
    assert isinstance(body.get("message"), str), body
    assert body["message"].strip(), body


def assert_error_response(response: Any, status: int) -> dict[str, Any]:
    """A refused ``$batch`` itself: the status and the one JSON error shape."""
    assert response.status_code == status, f"expected {status}, got {response.status_code}: {response.text}"
    assert response.headers.get("content-type", "").startswith("application/json")
    body = response.json()
    assert_error_shape(body)
    return body


def assert_failed(item: dict[str, Any], status: int) -> None:
    assert item["status"] == status, item
    assert_error_shape(item.get("body"))


def count(api: Api, entity_set: str) -> int:
    return int(api.ok(entity_set, **{"$count": "true", "$top": "0"})["@iot.count"])


def counts(api: Api) -> dict[str, int]:
    return {name: count(api, name) for name in ENTITY_SETS}


def names(api: Api, path: str = "Things") -> list[str]:
    return sorted(entity["name"] for entity in api.ok(path, **{"$top": "1000"})["value"])


def id_of(location: str) -> int:
    return int(location[location.rindex("(") + 1 : location.rindex(")")])


def without_ids(value: Any) -> Any:
    """An entity body with its id and every link left out, to compare two different entities."""
    if isinstance(value, dict):
        return {k: without_ids(v) for k, v in value.items()
                if not k.startswith("@iot.") and not k.endswith("@iot.navigationLink")}
    if isinstance(value, list):
        return [without_ids(v) for v in value]
    return value


def direct(api: Api, method: str, path: str, body: Any = None,
           headers: dict[str, str] | None = None) -> Any:
    """The same request sent on its own."""
    content = None if body is None else orjson.dumps(body)
    sent = {"content-type": "application/json"} if body is not None else {}
    sent.update({k.lower(): v for k, v in (headers or {}).items()})
    return api.client.request(method, api.url(path), content=content, headers=sent)


def new_datastream(name: str = "Level") -> dict[str, Any]:
    return datastream_body(name, Sensor=sensor_body(), ObservedProperty=observed_property_body())


# -- JSON batch: each request answered as on its own -------------------------------------


def test_get_requests_answer_as_single_requests(api: Api) -> None:
    thing = api.create("Things", thing_body("Erste"))
    api.create("Things", thing_body("Zweite"))
    paths = [
        f"Things({thing})",
        "Things?$orderby=name desc&$top=1&$count=true",
        f"Things({thing})/Locations",
        f"Things({thing})/name",
        f"Things({thing})?$select=name,description",
        f"Things({MISSING_ID})",
        "Thingz",
        "Things?$top=nope",
    ]
    responses = run_batch(api, [req(str(i), "GET", p) for i, p in enumerate(paths)])
    assert [r["id"] for r in responses] == [str(i) for i in range(len(paths))]
    for path, item in zip(paths, responses, strict=True):
        single = api.client.get(api.url(path))
        assert item["status"] == single.status_code, (path, item)
        assert item.get("body") == single.json(), path
        assert "atomicityGroup" not in item
    statuses = [r["status"] for r in responses]
    assert statuses[:5] == [200] * 5
    assert statuses[5:] == [404, 404, 400]
    for item in responses[5:]:
        assert_error_shape(item["body"])


def test_raw_value_is_carried_as_text(api: Api) -> None:
    thing = api.create("Things", thing_body("Wert"))
    [item] = run_batch(api, [req("v", "GET", f"Things({thing})/name/$value")])
    assert item["status"] == 200
    assert item["body"] == api.client.get(api.url(f"Things({thing})/name/$value")).text == "Wert"


def test_url_forms_relative_absolute_and_rooted(api: Api) -> None:
    thing = api.create("Things", thing_body("Formen"))
    urls = [f"Things({thing})", f"/v1.1/Things({thing})", f"http://testserver/v1.1/Things({thing})"]
    responses = run_batch(api, [req(str(i), "GET", u) for i, u in enumerate(urls)])
    assert [r["status"] for r in responses] == [200, 200, 200]
    assert responses[0]["body"]["name"] == "Formen"
    assert responses[0]["body"] == responses[1]["body"] == responses[2]["body"]


def test_writes_answer_as_single_requests(api: Api) -> None:
    """POST, PATCH (merge and JSON Patch), PUT and DELETE, in a batch and one by one."""
    steps: list[tuple[str, Any, dict[str, str] | None]] = [
        ("PATCH", {"description": "merged", "properties": {"district": "Süd"}}, None),
        ("PATCH", [{"op": "replace", "path": "/name", "value": "gepatcht"},
                   {"op": "add", "path": "/properties/level", "value": 3}], JSON_PATCH),
        ("PUT", {"name": "ersetzt", "description": "replaced"}, None),
        ("GET", None, None),
        ("DELETE", None, None),
        ("GET", None, None),
    ]
    requests = [req("new", "POST", "Things", thing_body("Batch", with_location=False))]
    requests += [req(f"s{i}", method, "$new", body, headers=headers)
                 for i, (method, body, headers) in enumerate(steps)]
    responses = run_batch(api, requests)
    assert [r["id"] for r in responses] == ["new"] + [f"s{i}" for i in range(len(steps))]

    created = direct(api, "POST", "Things", thing_body("Batch", with_location=False))
    assert created.status_code == 201
    singles = [created] + [direct(api, method, f"Things({id_of(created.headers['location'])})", body, headers)
                           for method, body, headers in steps]
    for item, single in zip(responses, singles, strict=True):
        assert item["status"] == single.status_code, (item, single.text)
        if single.content:
            assert without_ids(item["body"]) == without_ids(single.json()), item["id"]
        else:
            assert "body" not in item, item
    assert [r["status"] for r in responses] == [201, 200, 200, 200, 200, 200, 404]

    post = responses[0]
    location = post["headers"]["Location"]
    assert location == post["body"]["@iot.selfLink"]
    assert location.startswith("http://testserver/v1.1/Things(")
    assert id_of(location) == post["body"]["@iot.id"]
    assert responses[2]["body"]["name"] == "gepatcht"
    assert responses[2]["body"]["properties"] == {"district": "Süd", "level": 3}
    assert responses[2]["body"]["description"] == "merged"
    assert responses[3]["body"]["name"] == "ersetzt"
    assert responses[4]["body"] == responses[3]["body"]
    assert_error_shape(responses[6]["body"])
    assert api.get(f"Things({id_of(location)})").status_code == 404
    assert names(api) == []


def test_patch_and_put_with_other_media_types(api: Api) -> None:
    thing = api.create("Things", thing_body("Medien"))
    responses = run_batch(api, [
        req("text", "PATCH", f"Things({thing})", {"name": "x"}, headers={"Content-Type": "text/plain"}),
        req("put-patch", "PUT", f"Things({thing})", [{"op": "remove", "path": "/properties"}],
            headers=JSON_PATCH),
        req("bad-patch", "PATCH", f"Things({thing})", {"name": "not a list"}, headers=JSON_PATCH),
        req("charset", "PATCH", f"Things({thing})", {"name": "utf8"},
            headers={"content-type": "application/json; charset=utf-8"}),
    ])
    statuses = [r["status"] for r in responses]
    assert statuses == [
        direct(api, "PATCH", f"Things({thing})", {"name": "x"}, {"Content-Type": "text/plain"}).status_code,
        direct(api, "PUT", f"Things({thing})", [{"op": "remove", "path": "/properties"}],
               JSON_PATCH).status_code,
        direct(api, "PATCH", f"Things({thing})", {"name": "not a list"}, JSON_PATCH).status_code,
        200,
    ]
    assert statuses == [415, 415, 400, 200]
    for item in responses[:3]:
        assert_error_shape(item["body"])
    assert api.ok(f"Things({thing})")["name"] == "utf8"


def test_post_with_another_media_type_is_refused(api: Api) -> None:
    """A POST declared as text/plain is a 415 on its own, so it is one inside a batch too."""
    text = {"Content-Type": "text/plain"}
    single = direct(api, "POST", "Things", thing_body("Text"), text)
    assert single.status_code == 415
    responses = run_batch(api, [
        req("1", "POST", "Things", thing_body("Text"), headers=text),
        req("2", "POST", "Things", thing_body("Gruppe"), group="g"),
        req("3", "POST", "$2/Datastreams", new_datastream(), group="g", headers=text),
    ])
    for item in responses:
        assert_failed(item, 415)
    assert names(api) == []


def test_response_ids_keep_request_order(api: Api) -> None:
    thing = api.create("Things", thing_body("Ordnung"))
    order = ["zeta", "alpha", "17", "mu", "b"]
    paths = [f"Things({thing})", f"Things({MISSING_ID})", "Things", f"Things({thing})/name", "Sensors"]
    responses = run_batch(api, [req(i, "GET", p) for i, p in zip(order, paths, strict=True)])
    assert [r["id"] for r in responses] == order
    assert [r["status"] for r in responses] == [200, 404, 200, 200, 200]
    assert responses[3]["body"] == {"name": "Ordnung"}


def test_empty_batch(api: Api) -> None:
    assert run_batch(api, []) == []


# -- atomicity groups ------------------------------------------------------------------


def test_group_creates_thing_with_locations_and_datastreams(api: Api) -> None:
    responses = run_batch(api, [
        req("t", "POST", "Things", thing_body("Gruppe", with_location=False), group="g"),
        req("l", "POST", "$t/Locations", location_body("Steg"), group="g"),
        req("d", "POST", "$t/Datastreams", new_datastream("Pegel"), group="g"),
        req("after", "GET", "$d/Sensor"),
    ])
    assert [r["id"] for r in responses] == ["t", "l", "d", "after"]
    assert [r["status"] for r in responses] == [201, 201, 201, 200]
    assert [r.get("atomicityGroup") for r in responses] == ["g", "g", "g", None]
    ids = {}
    for item, entity_set in zip(responses[:3], ["Things", "Locations", "Datastreams"], strict=True):
        location = item["headers"]["Location"]
        assert location.startswith(f"http://testserver/v1.1/{entity_set}(")
        ids[item["id"]] = id_of(location)
        assert item["body"]["@iot.id"] == ids[item["id"]]
        assert item["body"] == api.ok(f"{entity_set}({ids[item['id']]})")
    assert responses[3]["body"]["name"] == sensor_body()["name"]
    thing = ids["t"]
    assert [x["@iot.id"] for x in api.ok(f"Things({thing})/Locations")["value"]] == [ids["l"]]
    assert [x["@iot.id"] for x in api.ok(f"Things({thing})/Datastreams")["value"]] == [ids["d"]]
    assert api.ok(f"Datastreams({ids['d']})/Thing")["@iot.id"] == thing
    assert api.ok(f"Datastreams({ids['d']})/ObservedProperty")["name"] == observed_property_body()["name"]
    # As POST Things(id)/Locations on its own, linking the Location records a HistoricalLocation.
    assert counts(api) == {
        "Things": 1, "Locations": 1, "HistoricalLocations": 1, "Datastreams": 1, "Sensors": 1,
        "ObservedProperties": 1, "Observations": 0, "FeaturesOfInterest": 0,
        "Actuators": 0, "TaskingCapabilities": 0, "Tasks": 0,
    }


def test_group_with_updates_and_delete_commits_all(api: Api) -> None:
    keep = api.create("Things", thing_body("Behalten"))
    gone = api.create("Things", thing_body("Weg", with_location=False))
    responses = run_batch(api, [
        req("1", "PATCH", f"Things({keep})", {"name": "Behalten 2"}, group="g"),
        req("2", "PATCH", f"Things({keep})", [{"op": "add", "path": "/properties/n", "value": 1}],
            group="g", headers=JSON_PATCH),
        req("3", "DELETE", f"Things({gone})", group="g"),
        req("4", "POST", "Things", thing_body("Neu", with_location=False), group="g"),
    ])
    assert [r["status"] for r in responses] == [200, 200, 200, 201]
    assert "body" not in responses[2]
    assert responses[0]["body"]["name"] == "Behalten 2"
    final = api.ok(f"Things({keep})")
    assert final["name"] == "Behalten 2"
    assert final["properties"] == {"district": "Nord", "n": 1}
    assert names(api) == ["Behalten 2", "Neu"]


def _seed(api: Api) -> dict[str, int]:
    thing = api.create("Things", thing_body("Bestand"))
    datastream = api.create(f"Things({thing})/Datastreams", new_datastream("Alt"))
    return {"thing": thing, "datastream": datastream}


BAD_LAST = {
    "bad property type": (
        lambda ids: req("c", "POST", "$a/Datastreams", dict(new_datastream(), unitOfMeasurement="cm"),
                        group="g"),
        400,
    ),
    "bad property type in a PATCH": (
        lambda ids: req("c", "PATCH", f"Things({ids['thing']})", {"properties": "flat"}, group="g"),
        400,
    ),
    "unknown linked id": (
        lambda ids: req("c", "POST", "$a/Datastreams",
                        datastream_body(Sensor={"@iot.id": MISSING_ID},
                                        ObservedProperty=observed_property_body()), group="g"),
        400,
    ),
    "PATCH of a missing entity": (
        lambda ids: req("c", "PATCH", f"Things({MISSING_ID})", {"name": "nie"}, group="g"),
        404,
    ),
    "DELETE of a missing entity": (
        lambda ids: req("c", "DELETE", f"Datastreams({MISSING_ID})", group="g"),
        404,
    ),
}


@pytest.mark.parametrize("case", list(BAD_LAST))
def test_group_with_invalid_last_request_writes_nothing(api: Api, case: str) -> None:
    ids = _seed(api)
    bad, status = BAD_LAST[case]
    before = counts(api)
    before_thing = api.ok(f"Things({ids['thing']})")
    responses = run_batch(api, [
        req("before", "POST", "Things", thing_body("Davor", with_location=False)),
        req("a", "POST", "Things", thing_body("Gruppe"), group="g"),
        req("b", "POST", "$a/Locations", location_body("Gruppe Ort"), group="g"),
        req("p", "PATCH", f"Things({ids['thing']})", {"name": "Geändert"}, group="g"),
        req("x", "DELETE", f"Datastreams({ids['datastream']})", group="g"),
        bad(ids),
        req("after", "POST", "Things", thing_body("Danach", with_location=False)),
    ])
    assert [r["id"] for r in responses] == ["before", "a", "b", "p", "x", "c", "after"]
    assert responses[0]["status"] == 201
    assert responses[-1]["status"] == 201
    for item in responses[1:-1]:
        assert_failed(item, status)
        assert item.get("atomicityGroup") == "g"
    # Nothing of the group was written: only the two requests outside it.
    assert counts(api) == before | {"Things": before["Things"] + 2}
    assert names(api) == ["Bestand", "Danach", "Davor"]
    assert api.ok(f"Things({ids['thing']})") == before_thing
    assert api.get(f"Datastreams({ids['datastream']})").status_code == 200


def test_group_with_first_request_invalid_writes_nothing(api: Api) -> None:
    responses = run_batch(api, [
        req("a", "POST", "Things", {"name": 5, "description": "keine Zahl"}, group="g"),
        req("b", "POST", "Things", thing_body("Gut"), group="g"),
    ])
    for item in responses:
        assert_failed(item, 400)
    assert counts(api) == dict.fromkeys(ENTITY_SETS, 0)


GROUP_REFUSALS = {
    "POST without a body": lambda thing: req("c", "POST", "Things", group="g"),
    "PATCH without a body": lambda thing: req("c", "PATCH", f"Things({thing})", group="g"),
    "PATCH of a collection": lambda thing: req("c", "PATCH", "Things", {"name": "alle"}, group="g"),
    "POST to one entity": lambda thing: req("c", "POST", f"Things({thing})", thing_body(), group="g"),
    "PATCH of a property": lambda thing: req("c", "PATCH", f"Things({thing})/name", {"name": "n"},
                                             group="g"),
    "unknown relation of $N": lambda thing: req("c", "POST", "$a/Sensors", sensor_body(), group="g"),
    "PATCH of $N/relation": lambda thing: req("c", "PATCH", "$a/Locations", {"name": "n"}, group="g"),
}


@pytest.mark.parametrize("case", list(GROUP_REFUSALS))
def test_group_refuses_what_it_cannot_write(api: Api, case: str) -> None:
    thing = api.create("Things", thing_body("Bestand"))
    before = counts(api)
    responses = run_batch(api, [
        req("a", "POST", "Things", thing_body("Gruppe"), group="g"),
        GROUP_REFUSALS[case](thing),
    ])
    for item in responses:
        assert_failed(item, 400)
    assert counts(api) == before
    assert api.ok(f"Things({thing})")["name"] == "Bestand"


def test_write_without_a_body_outside_a_group(api: Api) -> None:
    thing = api.create("Things", thing_body("Bestand"))
    responses = run_batch(api, [req("1", "POST", "Things"), req("2", "PATCH", f"Things({thing})")])
    for item, method, path in zip(responses, ["POST", "PATCH"], ["Things", f"Things({thing})"], strict=True):
        assert item["status"] == direct(api, method, path).status_code == 400
        assert_error_shape(item["body"])
    assert names(api) == ["Bestand"]


def test_get_inside_a_group_is_a_bad_request(api: Api) -> None:
    thing = api.create("Things", thing_body("Lesen"))
    responses = run_batch(api, [
        req("w", "POST", "Things", thing_body("Schreiben"), group="g"),
        req("r", "GET", f"Things({thing})", group="g"),
        req("out", "GET", f"Things({thing})"),
    ])
    assert_failed(responses[0], 400)
    assert_failed(responses[1], 400)
    assert [r.get("atomicityGroup") for r in responses] == ["g", "g", None]
    assert responses[2]["status"] == 200
    assert names(api) == ["Lesen"]


def test_group_patches_an_entity_it_created(api: Api) -> None:
    """OData 4.0 §11.7.3.1: inside a change set, $N is an alias for the new entity's URL."""
    responses = run_batch(api, [
        req("t", "POST", "Things", thing_body("Neu", with_location=False), group="g"),
        req("p", "PATCH", "$t", {"name": "Neu geändert"}, group="g"),
    ])
    assert [r["status"] for r in responses] == [201, 200], responses
    thing = id_of(responses[0]["headers"]["Location"])
    assert responses[1]["body"]["@iot.id"] == thing
    assert responses[1]["body"]["name"] == "Neu geändert"
    assert names(api) == ["Neu geändert"]


def test_two_groups_are_independent(api: Api) -> None:
    responses = run_batch(api, [
        req("a1", "POST", "Things", thing_body("A"), group="ga"),
        req("a2", "PATCH", f"Things({MISSING_ID})", {"name": "x"}, group="ga"),
        req("b1", "POST", "Things", thing_body("B"), group="gb"),
        req("b2", "POST", "$b1/Datastreams", new_datastream(), group="gb"),
    ])
    assert [r["status"] for r in responses] == [404, 404, 201, 201]
    assert names(api) == ["B"]
    assert count(api, "Datastreams") == 1


# -- dependsOn and $N references ----------------------------------------------------------


def test_depends_on_a_failed_group_is_not_executed(api: Api) -> None:
    responses = run_batch(api, [
        req("a", "POST", "Things", thing_body("Gruppe"), group="g"),
        req("b", "DELETE", f"Things({MISSING_ID})", group="g"),
        req("on-group", "POST", "Things", thing_body("Abhängig"), depends=["g"]),
        req("on-member", "POST", "Things", thing_body("Mitglied"), depends=["a"]),
        req("chain", "POST", "Things", thing_body("Kette"), depends=["on-group"]),
        req("free", "POST", "Things", thing_body("Frei")),
        req("group-on-failed", "POST", "Things", thing_body("G2"), group="g2", depends=["g"]),
        req("group-on-failed-2", "POST", "Things", thing_body("G3"), group="g2"),
    ])
    status = {r["id"]: r["status"] for r in responses}
    assert status == {
        "a": 404, "b": 404, "on-group": FAILED_DEPENDENCY, "on-member": FAILED_DEPENDENCY,
        "chain": FAILED_DEPENDENCY, "free": 201, "group-on-failed": FAILED_DEPENDENCY,
        "group-on-failed-2": FAILED_DEPENDENCY,
    }
    for item in responses:
        if item["status"] == FAILED_DEPENDENCY:
            assert_error_shape(item["body"])
    assert names(api) == ["Frei"]


def test_depends_on_a_success_runs(api: Api) -> None:
    responses = run_batch(api, [
        req("t", "POST", "Things", thing_body("Basis", with_location=False)),
        req("p", "PATCH", "$t", {"description": "nachher"}, depends=["t"]),
        req("g1", "POST", "$t/Locations", location_body("Ort"), group="g", depends=["p"]),
        req("after-group", "GET", "$t/Locations", depends=["g"]),
    ])
    assert [r["status"] for r in responses] == [201, 200, 201, 200]
    assert responses[1]["body"]["description"] == "nachher"
    assert [x["name"] for x in responses[3]["body"]["value"]] == ["Ort"]


def test_depends_on_a_failed_single_request(api: Api) -> None:
    responses = run_batch(api, [
        req("bad", "POST", "Things", {"description": "no name"}),
        req("dep", "POST", "Things", thing_body("Abhängig"), depends=["bad"]),
    ])
    assert_failed(responses[0], 400)
    assert_failed(responses[1], FAILED_DEPENDENCY)
    assert names(api) == []


def test_reference_to_an_entity_created_outside_a_group(api: Api) -> None:
    responses = run_batch(api, [
        req("1", "POST", "Things", thing_body("Referenz", with_location=False)),
        req("2", "POST", "$1/Datastreams", new_datastream("Über Referenz")),
        req("3", "PATCH", "$1", {"name": "Referenz umbenannt"}),
        req("4", "POST", "$1/Locations", location_body("In Gruppe"), group="g"),
        req("5", "PATCH", "$2", {"description": "in der Gruppe"}, group="g"),
        req("6", "GET", "$1?$expand=Datastreams,Locations"),
    ])
    assert [r["status"] for r in responses] == [201, 201, 200, 201, 200, 200]
    thing = id_of(responses[0]["headers"]["Location"])
    assert responses[2]["body"]["@iot.id"] == thing
    assert responses[2]["body"]["name"] == "Referenz umbenannt"
    expanded = responses[5]["body"]
    assert [d["name"] for d in expanded["Datastreams"]] == ["Über Referenz"]
    assert expanded["Datastreams"][0]["description"] == "in der Gruppe"
    assert [loc["name"] for loc in expanded["Locations"]] == ["In Gruppe"]
    assert api.ok(f"Things({thing})")["name"] == "Referenz umbenannt"
    assert count(api, "Things") == 1


def test_unknown_reference_is_a_not_found(api: Api) -> None:
    responses = run_batch(api, [
        req("1", "POST", "Things", thing_body("Da", with_location=False)),
        req("2", "GET", "$9"),
        req("3", "POST", "$9/Datastreams", new_datastream()),
        req("4", "PATCH", "$1", {"name": "Da 2"}),
        req("5", "POST", "$9/Locations", location_body(), group="g"),
        req("6", "POST", "Things", thing_body("Gruppe"), group="g"),
    ])
    assert [r["status"] for r in responses] == [201, 404, 404, 200, 404, 404]
    for item in responses[1:3] + responses[4:]:
        assert_error_shape(item["body"])
    assert names(api) == ["Da 2"]
    assert count(api, "Datastreams") == 0


def test_reference_to_a_failed_request_is_not_found(api: Api) -> None:
    responses = run_batch(api, [
        req("1", "POST", "Things", {"name": "ohne Beschreibung", "properties": []}),
        req("2", "PATCH", "$1", {"name": "x"}),
    ])
    assert_failed(responses[0], 400)
    assert_failed(responses[1], 404)


# -- multipart/mixed ----------------------------------------------------------------------

BATCH = "batch_36522ad7-fc75-4b56-8c71-56071383e77b"
CHANGESET = "changeset_77162fcd-b8da-41ac-a9f8-9357efbbd621"


def http_part(request: str, content_id: str | None = None, boundary: str = BATCH) -> str:
    head = "Content-Type: application/http\nContent-Transfer-Encoding:binary\n"
    if content_id is not None:
        head += f"Content-ID: {content_id}\n"
    return f"--{boundary}\n{head}\n{request}\n"


def post_part(url: str, body: Any, content_id: str) -> str:
    request = (f"POST {url} HTTP/1.1\nHost: testserver\nContent-Type: application/json\n\n"
               f"{orjson.dumps(body).decode()}\n")
    return http_part(request, content_id, CHANGESET)


def changeset(*parts: str) -> str:
    head = f"--{BATCH}\nContent-Type: multipart/mixed;boundary={CHANGESET}\n\n"
    return f"{head}{''.join(parts)}--{CHANGESET}--\n\n"


def multipart_body(*parts: str) -> bytes:
    return ("".join(parts) + f"--{BATCH}--\n").replace("\n", "\r\n").encode()


def send_multipart(api: Api, body: bytes) -> Any:
    return api.client.post(api.url("$batch"), content=body,
                           headers={"content-type": f"multipart/mixed;boundary={BATCH}"})


def parse_multipart(response: Any) -> list[Message]:
    assert response.status_code == 200, response.text
    content_type = response.headers["content-type"]
    assert content_type.startswith("multipart/mixed; boundary=")
    message = email.message_from_bytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + response.content,
        policy=email.policy.HTTP,
    )
    assert message.is_multipart()
    assert not message.defects, message.defects
    return list(message.iter_parts())


def parse_http(part: Message) -> tuple[int, str, dict[str, str], Any]:
    """Status, reason, headers and JSON body of an ``application/http`` response part."""
    assert part.get_content_type() == "application/http"
    assert part["Content-Transfer-Encoding"] == "binary"
    payload = part.get_payload()
    assert isinstance(payload, str)
    head, _, body = payload.replace("\r\n", "\n").partition("\n\n")
    status_line, *header_lines = head.split("\n")
    version, status, reason = status_line.split(" ", 2)
    assert version == "HTTP/1.1"
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status), reason, headers, orjson.loads(body) if body.strip() else None


def test_multipart_get_and_change_set(api: Api) -> None:
    thing = api.create("Things", thing_body("Vorhanden"))
    body = multipart_body(
        http_part(f"GET /v1.1/Things({thing}) HTTP/1.1\nHost: testserver\n"),
        changeset(
            post_part("/v1.1/Things", thing_body("Neu", with_location=False), "1"),
            post_part("$1/Datastreams", new_datastream("Im Changeset"), "2"),
        ),
        http_part("GET /v1.1/Things?$orderby=id&$count=true HTTP/1.1\nHost: testserver\n"),
    )
    get, change_set, listing = parse_multipart(send_multipart(api, body))

    status, reason, headers, payload = parse_http(get)
    assert (status, reason) == (200, "OK")
    assert headers["content-type"].startswith("application/json")
    assert payload == api.ok(f"Things({thing})")

    assert change_set.get_content_type() == "multipart/mixed"
    inner = list(change_set.iter_parts())
    assert [p["Content-ID"] for p in inner] == ["1", "2"]
    created = {}
    for part, entity_set in zip(inner, ["Things", "Datastreams"], strict=True):
        status, reason, headers, payload = parse_http(part)
        assert (status, reason) == (201, "Created")
        assert headers["location"].startswith(f"http://testserver/v1.1/{entity_set}(")
        created[entity_set] = id_of(headers["location"])
        assert payload == api.ok(f"{entity_set}({created[entity_set]})")
    assert api.ok(f"Datastreams({created['Datastreams']})/Thing")["@iot.id"] == created["Things"]

    status, _, _, payload = parse_http(listing)
    assert status == 200
    assert payload["@iot.count"] == 2
    assert [t["name"] for t in payload["value"]] == ["Vorhanden", "Neu"]


def test_multipart_failing_change_set_gives_one_error_part(api: Api) -> None:
    thing = api.create("Things", thing_body("Vorhanden"))
    before = counts(api)
    body = multipart_body(
        changeset(
            post_part("/v1.1/Things", thing_body("Nie"), "1"),
            post_part("$1/Datastreams", datastream_body(Sensor={"@iot.id": MISSING_ID},
                                                         ObservedProperty=observed_property_body()), "2"),
        ),
        http_part(f"GET /v1.1/Things({thing}) HTTP/1.1\nHost: testserver\n"),
    )
    failed, get = parse_multipart(send_multipart(api, body))
    assert not failed.is_multipart()
    status, _, headers, payload = parse_http(failed)
    assert status == 400
    assert headers["content-type"].startswith("application/json")
    assert_error_shape(payload)
    assert parse_http(get)[0] == 200
    assert counts(api) == before
    assert names(api) == ["Vorhanden"]


def test_multipart_parts_without_content_id(api: Api) -> None:
    thing = api.create("Things", thing_body("Ohne ID"))
    body = multipart_body(
        http_part(f"GET /v1.1/Things({thing})/name HTTP/1.1\n"),
        http_part(f"GET /v1.1/Things({MISSING_ID}) HTTP/1.1\n"),
    )
    first, second = parse_multipart(send_multipart(api, body))
    assert first["Content-ID"] is None
    assert parse_http(first)[3] == {"name": "Ohne ID"}
    status, reason, _, payload = parse_http(second)
    assert (status, reason) == (404, "Not Found")
    assert_error_shape(payload)


def test_multipart_raw_value_is_plain_text(api: Api) -> None:
    thing = api.create("Things", thing_body("Wert"))
    single = api.client.get(api.url(f"Things({thing})/name/$value"))
    [part] = parse_multipart(send_multipart(api, multipart_body(
        http_part(f"GET /v1.1/Things({thing})/name/$value HTTP/1.1\n"))))
    payload = part.get_payload()
    head, _, body = payload.replace("\r\n", "\n").partition("\n\n")
    assert head.startswith("HTTP/1.1 200 OK")
    assert "content-type: text/plain" in head.lower(), head
    assert body.strip() == single.text == "Wert"


def test_malformed_multipart_is_a_bad_request(api: Api) -> None:
    body = multipart_body(http_part("GET /v1.1/Things\n"))  # no HTTP version on the request line
    assert_error_response(send_multipart(api, body), 400)
    no_boundary = api.client.post(api.url("$batch"), content=body,
                                  headers={"content-type": "multipart/mixed"})
    assert_error_response(no_boundary, 400)
    get_in_changeset = multipart_body(changeset(http_part("GET /v1.1/Things HTTP/1.1\n", "1", CHANGESET)))
    assert_error_response(send_multipart(api, get_in_changeset), 400)


# -- errors of the batch itself -----------------------------------------------------------


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", "multipart/form-data; boundary=b",
                                          None])
def test_wrong_content_type(api: Api, content_type: str | None) -> None:
    headers = {"content-type": content_type} if content_type else {}
    body = orjson.dumps({"requests": [req("1", "POST", "Things", thing_body("x"))]})
    assert_error_response(api.client.post(api.url("$batch"), content=body, headers=headers), 415)
    assert names(api) == []


def test_json_content_type_with_parameters(api: Api) -> None:
    body = orjson.dumps({"requests": [req("1", "POST", "Things", thing_body("Zeichensatz"))]})
    response = api.client.post(api.url("$batch"), content=body,
                               headers={"content-type": "application/json; charset=utf-8"})
    assert response.status_code == 200, response.text
    assert response.json()["responses"][0]["status"] == 201
    assert names(api) == ["Zeichensatz"]


@pytest.mark.parametrize("content", [b"{\"requests\": [", b"", b"not json", b"\xff\xfe"])
def test_malformed_json(api: Api, content: bytes) -> None:
    response = api.client.post(api.url("$batch"), content=content,
                               headers={"content-type": "application/json"})
    assert_error_response(response, 400)


@pytest.mark.parametrize("data", [
    {}, {"request": []}, {"requests": {}}, [], {"requests": [{"id": "1", "method": "GET"}]},
    {"requests": [req("1", "GET", "Things"), req("1", "GET", "Things")]},
    {"requests": [req("1", "GET", "Things", depends=["2"]), req("2", "GET", "Things")]},
])
def test_invalid_batch_structure(api: Api, data: Any) -> None:
    response = api.client.post(api.url("$batch"), json=data)
    assert_error_response(response, 400)


def test_invalid_batch_structure_runs_nothing(api: Api) -> None:
    response = send_batch(api, [
        req("1", "POST", "Things", thing_body("Nie")),
        req("2", "TRACE", "Things"),
    ])
    assert_error_response(response, 400)
    assert names(api) == []


def test_get_on_batch_is_method_not_allowed(api: Api) -> None:
    for method in ("GET", "PUT", "DELETE"):
        response = api.client.request(method, api.url("$batch"))
        assert_error_response(response, 405)
        assert "POST" in response.headers.get("allow", "")


@pytest.fixture
def limited(settings: Settings) -> Iterator[Api]:
    tuned = Settings.validated({
        "database": settings.database, "data_dir": settings.data_dir,
        "max_batch_requests": 2, "max_body_bytes": 2000,
    })
    with TestClient(make_app(tuned), raise_server_exceptions=False) as test_client:
        yield Api(test_client)


def test_too_many_requests(limited: Api) -> None:
    two = [req("1", "POST", "Things", thing_body("Eins")), req("2", "GET", "Things")]
    assert [r["status"] for r in run_batch(limited, two)] == [201, 200]
    three = [*two, req("3", "POST", "Things", thing_body("Drei"))]
    three[0] = req("1", "POST", "Things", thing_body("Zwei"))
    body = assert_error_response(send_batch(limited, three), 400)
    assert "2" in body["message"]
    multipart = multipart_body(
        http_part("GET /v1.1/Things HTTP/1.1\n"),
        changeset(post_part("/v1.1/Things", {"name": "a", "description": "b"}, "1"),
                  post_part("/v1.1/Things", {"name": "c", "description": "d"}, "2")),
    )
    assert_error_response(send_multipart(limited, multipart), 400)
    assert names(limited) == ["Eins"]


def test_body_over_the_limit(limited: Api) -> None:
    big = [req("1", "POST", "Things", {"name": "x" * 3000, "description": "groß"})]
    assert_error_response(send_batch(limited, big), 413)

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit must hold while reading
        data = orjson.dumps({"requests": big})
        for start in range(0, len(data), 500):
            yield data[start : start + 500]

    at_limit = orjson.dumps({"requests": [req("1", "POST", "Things", {"name": "", "description": "d"})]})
    padded = at_limit.replace(b'"name":""', b'"name":"' + b"x" * (2000 - len(at_limit)) + b'"')
    assert len(padded) == 2000
    accepted = limited.client.post(limited.url("$batch"), content=padded,
                                   headers={"content-type": "application/json"})
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["responses"][0]["status"] == 201
    limited.client.delete(limited.url(f"Things({accepted.json()['responses'][0]['body']['@iot.id']})"))

    streamed = limited.client.post(limited.url("$batch"), content=chunks(),
                                   headers={"content-type": "application/json"})
    assert_error_response(streamed, 413)
    assert names(limited) == []


# -- tenants ------------------------------------------------------------------------------


def test_batch_under_a_tenant_acts_on_that_tenant_only(settings: Settings, client: TestClient) -> None:
    create_tenant(settings, "nord")
    town, nord = Api(client), Api(client, "/t/nord/v1.1")
    own = town.create("Things", thing_body("Stadt"))
    responses = run_batch(nord, [
        req("t", "POST", "Things", thing_body("Nord", with_location=False), group="g"),
        req("l", "POST", "$t/Locations", location_body("Nordufer"), group="g"),
        req("d", "POST", "$t/Datastreams", new_datastream("Nordpegel"), group="g"),
        req("list", "GET", "Things"),
        req("other", "GET", f"Things({own})"),
        req("patch-other", "PATCH", f"Things({own})", {"name": "übernommen"}),
        req("delete-other", "DELETE", f"Things({own})"),
        req("rooted", "GET", "/t/nord/v1.1/Things?$count=true"),
    ])
    status = {r["id"]: r["status"] for r in responses}
    assert status == {"t": 201, "l": 201, "d": 201, "list": 200, "other": 404, "patch-other": 404,
                      "delete-other": 404, "rooted": 200}
    for item in responses[:3]:
        assert item["headers"]["Location"].startswith("http://testserver/t/nord/v1.1/")
    assert [t["name"] for t in by_id(responses)["list"]["body"]["value"]] == ["Nord"]
    assert by_id(responses)["rooted"]["body"]["@iot.count"] == 1
    assert names(nord) == ["Nord"]
    assert names(town) == ["Stadt"]
    assert count(town, "Datastreams") == 0
    assert count(town, "Locations") == 1
    assert count(nord, "Datastreams") == 1

    # A change set in the tenant that touches the town's Thing fails as a whole.
    responses = run_batch(nord, [
        req("a", "POST", "Things", thing_body("Nord 2"), group="h"),
        req("b", "POST", f"Things({own})/Locations", location_body("fremd"), group="h"),
    ])
    for item in responses:
        assert_failed(item, 404)
    assert names(nord) == ["Nord"]
    assert count(town, "Locations") == 1


def test_batch_of_an_unknown_tenant(client: TestClient) -> None:
    response = client.post("/t/gibtsnicht/v1.1/$batch", json={"requests": [req("1", "GET", "Things")]})
    assert_error_response(response, 404)
