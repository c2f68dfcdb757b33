"""Every limit answers a 4xx in the one error shape, on every route that takes a body or
a query (limits do not depend on the backend: SQLite only)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import TestClient, full_thing_body
from quartier.app import build_app
from quartier.settings import Settings

LIMIT = 2000


@pytest.fixture
def small(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings.validated({
        "data_dir": tmp_path, "max_body_bytes": LIMIT, "max_filter_nodes": 20,
        "max_top": 50, "default_top": 10, "max_expand_depth": 2, "max_batch_requests": 2,
    })
    with TestClient(build_app(settings), raise_server_exceptions=False) as client:
        assert client.post("/v1.1/Things", json=full_thing_body()).status_code == 201
        yield client


def _error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["code"] == code and body["message"], body
    return body


def _integration_secret(client: TestClient) -> str:
    created = client.post("/api/lorawan/integrations", json={"name": "net", "network": "tts"})
    assert created.status_code == 201, created.text
    return str(created.json()["secret"])


BODY_ROUTES = [
    ("POST", "/v1.1/Things"), ("PATCH", "/v1.1/Things(1)"), ("PUT", "/v1.1/Things(1)"),
    ("POST", "/v1.1/$batch"), ("POST", "/v1.1/CreateObservations"),
    ("POST", "/t/default/v1.1/Observations"),
    ("POST", "/api/rules"), ("PUT", "/api/rules/any"), ("POST", "/api/channels"),
    ("POST", "/api/device-profiles"), ("POST", "/api/devices"),
    ("POST", "/api/lorawan/integrations"), ("PUT", "/api/basemap/districts"),
    ("POST", "/api/alerts/1/acknowledge"), ("PUT", "/api/datastreams/1/retention"),
    ("PUT", "/api/things/1/retention"), ("PUT", "/api/observed-properties/1/retention"),
    ("POST", "/api/lorawan/net/uplink"),
]


@pytest.mark.parametrize("method,path", BODY_ROUTES)
@pytest.mark.parametrize("declared", [True, False])
def test_body_over_the_limit_is_413_everywhere(small: TestClient, method: str, path: str,
                                               declared: bool) -> None:
    headers = {"Content-Type": "application/json"}
    if path.endswith("/uplink"):
        headers["Authorization"] = "Bearer " + _integration_secret(small)
    body = b'{"name": "' + b"x" * LIMIT + b'"}'
    if declared:
        response = small.request(method, path, content=body, headers=headers)
    else:  # chunked: no Content-Length to refuse it by
        response = small.request(method, path, content=iter([body[:1000], body[1000:]]),
                                 headers=headers)
    _error(response, 413, "payload_too_large")


def test_import_has_its_own_limit(tmp_path: Path) -> None:
    settings = Settings.validated({"data_dir": tmp_path, "max_import_bytes": 100})
    with TestClient(build_app(settings), raise_server_exceptions=False) as client:
        response = client.post("/api/imports/csv?datastream=1&timeColumn=t&valueColumn=v",
                               content=b"t,v\n" + b"2026-01-01T00:00:00Z,1\n" * 20,
                               headers={"Content-Type": "text/csv"})
        _error(response, 413, "payload_too_large")


@pytest.mark.parametrize("query,mention", [
    ({"$top": "51"}, "$top"),
    ({"$expand": "Datastreams($expand=Sensor($expand=Datastreams))"}, "$expand"),
    ({"$filter": " or ".join(f"id eq {i}" for i in range(8))}, "more than 20"),
    ({"$orderby": ", ".join(f"length(name) add {i}" for i in range(8))}, "more than 20"),
    ({"$expand": "Datastreams($filter=" + " or ".join(f"id eq {i}" for i in range(8)) + ")"},
     "more than 20"),
])
@pytest.mark.parametrize("prefix", ["/v1.1", "/t/default/v1.1"])
def test_query_limits(small: TestClient, query: dict[str, str], mention: str, prefix: str) -> None:
    body = _error(small.get(f"{prefix}/Things", params=query), 400, "bad_request")
    assert mention in body["message"]


def test_query_limits_inside_batch(small: TestClient) -> None:
    filter_ = " or ".join(f"id eq {i}" for i in range(8))
    response = small.post("/v1.1/$batch", json={"requests": [
        {"id": "1", "method": "get", "url": f"Things?$filter={filter_}"}]})
    assert response.status_code == 200, response.text
    inner = response.json()["responses"][0]
    assert inner["status"] == 400 and "more than 20" in inner["body"]["message"]
    too_many = {"requests": [{"id": str(i), "method": "get", "url": "Things"} for i in range(3)]}
    _error(small.post("/v1.1/$batch", json=too_many), 400, "bad_request")


def test_filter_within_the_node_limit_is_answered(small: TestClient) -> None:
    response = small.get("/v1.1/Things", params={"$filter": "id eq 1 or id eq 2"})
    assert response.status_code == 200, response.text
