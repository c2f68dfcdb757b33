"""API keys, roles, public and internal data, and the audit log, on every backend."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from conftest import AnonymousClient, TestClient, create_tenant, full_thing_body, issue_key, make_app
from quartier.settings import Settings

ROLES = ("viewer", "operator", "editor", "admin")
OBSERVATION = {"phenomenonTime": "2026-11-22T10:00:00Z", "result": 3}


@pytest.fixture
def app(settings: Settings) -> Iterator[tuple[Any, TestClient]]:
    """The app, and an admin client that has made a gauge: Thing 1, Datastream 1, one
    Observation."""
    application = make_app(settings)
    with TestClient(application, raise_server_exceptions=False) as admin:
        assert admin.post("/v1.1/Things", json=full_thing_body()).status_code == 201
        assert admin.post("/v1.1/Datastreams(1)/Observations", json=OBSERVATION).status_code == 201
        yield application, admin


def _as(app: tuple[Any, TestClient], role: str | None, **headers: str) -> AnonymousClient:
    application, admin = app
    # Not entered: the app already runs, in the admin client's event loop (its portal).
    client = AnonymousClient(application, raise_server_exceptions=False)
    client.portal = admin.portal
    if role is not None:
        client.headers["X-API-Key"] = issue_key(application, admin.portal, role)
    client.headers.update(headers)
    return client


# (method, path, body, the least role that may; None: anyone)
REQUESTS: list[tuple[str, str, Any, str | None]] = [
    ("GET", "/v1.1/Things", None, None),
    ("GET", "/api/alerts", None, None),
    ("GET", "/api/channels", None, "viewer"),
    ("GET", "/api/dead-letters", None, "viewer"),
    ("GET", "/api/rules", None, "viewer"),
    ("GET", "/api/grants", None, "viewer"),
    ("GET", "/api/datastreams/1/retention", None, "viewer"),
    ("POST", "/api/alerts/999/acknowledge", {}, "operator"),
    ("POST", "/api/alerts/999/resolve", {}, "operator"),
    ("POST", "/api/alerts/999/comments", {"text": "x"}, "operator"),
    ("POST", "/v1.1/Things", {"name": "n", "description": "d"}, "editor"),
    ("PATCH", "/v1.1/Things(1)", {"name": "m"}, "editor"),
    ("POST", "/v1.1/$batch", {"requests": []}, "editor"),
    ("POST", "/v1.1/CreateObservations", [], "editor"),
    ("DELETE", "/v1.1/Observations(1)", None, "editor"),
    ("POST", "/api/rules", {}, "editor"),
    ("DELETE", "/api/dead-letters/1", None, "editor"),
    ("PUT", "/api/basemap/districts", {}, "editor"),
    ("GET", "/api/keys", None, "admin"),
    ("POST", "/api/keys", {"name": "x", "role": "viewer"}, "admin"),
    ("GET", "/api/audit", None, "admin"),
    ("GET", "/api/users", None, "admin"),
    ("POST", "/api/users", {"name": "x", "role": "viewer"}, "admin"),
    ("PATCH", "/api/users/x", {"role": "editor"}, "admin"),
    ("GET", "/api/session", None, None),
    ("DELETE", "/api/session", None, None),
    ("PUT", "/api/visibility/Things/1", {"visibility": "public"}, "admin"),
    ("POST", "/api/lighting/commands",
     {"target": {"thing": 999}, "parameters": {"switch": "on"}}, "operator"),
    ("POST", "/v1.1/Tasks", {"taskingParameters": {}}, "operator"),
    ("POST", "/api/lighting/groups", {"name": "g", "things": [1]}, "editor"),
    ("PUT", "/api/datastreams/1/retention", {"days": 30}, "admin"),
    ("PUT", "/api/things/1/retention", {"days": 30}, "admin"),
    ("POST", "/api/grants", {"region": "kreis", "thing": 1}, "admin"),
    ("GET", "/api/workorders", None, "viewer"),
    ("POST", "/api/workorders", {"title": "Leuchte tauschen"}, "operator"),
    ("PATCH", "/api/workorders/999", {"status": "in_progress"}, "operator"),
    ("POST", "/api/rules/templates/street-lighting", {}, "editor"),
]


@pytest.mark.parametrize(("method", "path", "body", "least"), REQUESTS,
                         ids=[f"{m} {p}" for m, p, _, _ in REQUESTS])
def test_each_role_may_do_what_its_rule_says(app: Any, method: str, path: str, body: Any,
                                             least: str | None) -> None:
    for role in (None, *ROLES):
        client = _as(app, role)
        response = client.request(method, path, json=body)
        allowed = least is None or (role is not None and ROLES.index(role) >= ROLES.index(least))
        if allowed:
            assert response.status_code not in (401, 403), (role, response.text)
            assert response.status_code < 500, (role, response.text)
        else:
            assert response.status_code == (401 if role is None else 403), (role, response.text)
            assert set(response.json()) >= {"code", "message"}
            if role is None:
                assert response.headers["www-authenticate"].startswith("Bearer")


def test_a_bad_expired_or_revoked_key_is_401_and_never_echoed(app: Any) -> None:
    _application, admin = app
    made = admin.post("/api/keys", json={"name": "kurz", "role": "editor", "expires": "PT1S"})
    assert made.status_code == 201, made.text
    short = made.json()["key"]
    revoked = admin.post("/api/keys", json={"name": "alt", "role": "editor"}).json()
    assert admin.delete(f"/api/keys/{revoked['id']}").status_code == 200
    time.sleep(1.2)
    for key in (short, revoked["key"], "qk_00000000_" + "A" * 43, "nonsense"):
        for headers in ({"Authorization": f"Bearer {key}"}, {"X-API-Key": key}):
            client = _as(app, None, **headers)
            response = client.get("/v1.1/Things")
            assert response.status_code == 401, response.text
            assert response.json()["code"] == "unauthorized"
            assert key not in response.text
            assert response.headers["www-authenticate"] == 'Bearer realm="quartier"'


def test_a_key_is_shown_once_and_stored_as_a_hash(app: Any) -> None:
    application, admin = app
    made = admin.post("/api/keys", json={"name": "Leitstelle", "role": "operator",
                                         "scopes": ["alerts"], "expires": "P90D"}).json()
    key = made["key"]
    assert key.startswith(made["prefix"] + "_") and len(key) > 40
    listed = admin.get("/api/keys").json()["value"]
    assert [k["name"] for k in listed if k["id"] == made["id"]] == ["Leitstelle"]
    assert key not in admin.get("/api/keys").text and "hash" not in admin.get("/api/keys").text

    async def rows() -> list[Any]:
        async with application_store(application).reader() as conn:
            return list(await conn.fetch("SELECT * FROM api_keys WHERE id = ?", (made["id"],)))

    (row,) = admin.portal.call(rows)
    assert key not in [str(v) for v in row]
    assert hashlib.sha256(key.encode()).hexdigest() in [str(v) for v in row]
    # A scope narrows what the role allows: this operator key may touch alerts only.
    client = _as(app, None, Authorization=f"Bearer {key}")
    assert client.post("/api/alerts/1/acknowledge", json={}).status_code not in (401, 403)
    assert client.post("/api/rules", json={}).status_code == 403


def application_store(application: Any) -> Any:
    return getattr(application, "app", application).state.store


def test_keys_belong_to_their_tenant(app: Any, settings: Settings) -> None:
    application, admin = app
    create_tenant(settings, "nachbar")
    client = _as(app, "admin")
    response = client.get("/t/nachbar/v1.1/Things")
    assert response.status_code == 401, response.text
    assert client.post("/t/nachbar/v1.1/Things", json=full_thing_body()).status_code == 401
    neighbour = issue_key(application, admin.portal, "admin", tenant="nachbar")
    client = _as(app, None, Authorization=f"Bearer {neighbour}")
    assert client.get("/v1.1/Things(1)").status_code == 401
    assert client.get("/t/nachbar/v1.1/Things(1)").status_code == 404  # B has no Thing 1


def test_anonymous_readers_see_only_public_data(app: Any) -> None:
    _application, admin = app
    # Thing 2 is internal; Datastream 2 on the public Thing 1 is internal too.
    assert admin.post("/v1.1/Things", json=full_thing_body("Wasserwerk")).status_code == 201
    body = full_thing_body()["Datastreams"][0] | {"name": "Intern", "Thing": {"@iot.id": 1}}
    assert admin.post("/v1.1/Datastreams", json=body).status_code == 201
    for ds in (2, 3):
        assert admin.post(f"/v1.1/Datastreams({ds})/Observations", json=OBSERVATION).status_code == 201
    for path in ("/api/visibility/Things/2", "/api/visibility/Datastreams/3"):
        answer = admin.put(path, json={"visibility": "internal"})
        assert answer.status_code == 200, answer.text
    assert admin.get("/api/visibility").json() == {"internal": {"Things": [2], "Datastreams": [3]}}

    def seen(client: Any, path: str, **params: Any) -> Any:
        response = client.get(path, params=params)
        return response.json() if response.status_code == 200 else response.status_code

    anonymous, viewer = _as(app, None), _as(app, "viewer")
    assert [t["@iot.id"] for t in seen(anonymous, "/v1.1/Things")["value"]] == [1]
    assert [t["@iot.id"] for t in seen(viewer, "/v1.1/Things")["value"]] == [1, 2]
    assert seen(anonymous, "/v1.1/Datastreams", **{"$count": "true"})["@iot.count"] == 1
    assert seen(viewer, "/v1.1/Datastreams", **{"$count": "true"})["@iot.count"] == 3
    assert seen(anonymous, "/v1.1/Observations", **{"$count": "true"})["@iot.count"] == 1
    assert seen(viewer, "/v1.1/Observations", **{"$count": "true"})["@iot.count"] == 3
    for path in ("/v1.1/Things(2)", "/v1.1/Datastreams(3)", "/v1.1/Datastreams(2)/Observations",
                 "/v1.1/Things(2)/Datastreams", "/v1.1/Observations(3)"):
        assert seen(anonymous, path) == 404, path
    expanded = seen(anonymous, "/v1.1/Things(1)",
                    **{"$expand": "Datastreams($expand=Observations;$count=true)"})
    assert [d["@iot.id"] for d in expanded["Datastreams"]] == [1]
    assert expanded["Datastreams@iot.count"] == 1
    hidden = {"$filter": "Datastream/name eq 'Intern'", "$count": "true"}
    assert seen(anonymous, "/v1.1/Observations", **hidden)["@iot.count"] == 0
    assert seen(viewer, "/v1.1/Observations", **hidden)["@iot.count"] == 1
    by_datastream = {"$filter": "Datastreams/name eq 'Intern'"}
    assert seen(anonymous, "/v1.1/Things", **by_datastream)["value"] == []
    assert [t["@iot.id"] for t in seen(anonymous, "/v1.1/Locations")["value"]] == [1]


def test_every_write_is_audited_with_who_and_where(app: Any) -> None:
    _application, admin = app
    editor = _as(app, "editor")
    assert editor.post("/v1.1/Things", json={"name": "n", "description": "d"}).status_code == 201
    rows = [{"Datastream": {"@iot.id": 1}, "components": ["phenomenonTime", "result"],
             "dataArray": [[f"2026-11-22T1{i}:00:00Z", i] for i in range(5)]}]
    assert editor.post("/v1.1/CreateObservations", json=rows).status_code == 201
    assert editor.post("/api/rules", json={"nonsense": 1}).status_code == 400  # not recorded
    prefix = editor.headers["X-API-Key"][:11]
    made = admin.post("/api/keys", json={"name": "Bereitschaft", "role": "operator"}).json()
    admin.delete(f"/api/keys/{made['id']}")
    entries = admin.get("/api/audit").json()["value"]
    by_action = {e["action"]: e for e in entries}
    thing = [e for e in entries if e["action"] == "sensorthings.create" and e["target"] == "/v1.1/Things"
             and e["principal"] == f"key:{prefix}"]
    assert len(thing) == 1
    assert thing[0]["role"] == "editor" and thing[0]["address"] == "testclient"
    observations = [e for e in entries if e["target"] == "/v1.1/CreateObservations"]
    assert len(observations) == 1 and observations[0]["detail"]["changes"] == 5
    assert by_action["keys.create"]["detail"]["key"]["name"] == "Bereitschaft"
    assert by_action["keys.create"]["principal"] == f"key:{admin.key[:11]}"
    assert by_action["keys.delete"]["detail"]["key"]["revoked"] is not None
    assert "rules.create" not in by_action
    assert made["key"] not in admin.get("/api/audit").text
    only = admin.get("/api/audit", params={"principal": f"key:{prefix}"}).json()["value"]
    assert {e["principal"] for e in only} == {f"key:{prefix}"} and len(only) == 2
    since = (time.time() + 3600)
    later = admin.get("/api/audit", params={"from": _iso(since)}).json()["value"]
    assert later == []
    assert admin.get("/api/audit", params={"from": "gestern"}).status_code == 400


def _iso(epoch: float) -> str:
    from datetime import UTC, datetime

    return (datetime.fromtimestamp(epoch, UTC) - timedelta(0)).isoformat().replace("+00:00", "Z")


def test_the_audit_log_cannot_be_changed_through_the_api(app: Any) -> None:
    _application, admin = app
    admin.post("/v1.1/Things", json={"name": "n", "description": "d"})
    entry = admin.get("/api/audit").json()["value"][0]["id"]
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        assert admin.request(method, "/api/audit", json={}).status_code == 405
        assert admin.request(method, f"/api/audit/{entry}", json={}).status_code in (404, 405)
    assert admin.get("/api/audit").json()["value"][0]["id"] == entry
