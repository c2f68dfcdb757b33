"""The OpenAPI document: valid OpenAPI 3.1, served for each tenant, and complete."""

from __future__ import annotations

from pathlib import Path

from openapi_spec_validator import validate
from starlette.routing import Route

from conftest import TestClient, create_tenant
from quartier.app import build_app
from quartier.model.entities import ENTITY_SETS
from quartier.openapi import openapi_document
from quartier.settings import Settings


def test_the_document_is_valid_openapi_3_1() -> None:
    document = openapi_document()
    assert document["openapi"] == "3.1.0"
    validate(document)


def test_every_entity_set_property_and_relation_has_its_paths() -> None:
    paths = openapi_document()["paths"]
    for plural, etype in ENTITY_SETS.items():
        base = f"/v1.1/{plural}"
        assert {"get", "post"} <= set(paths[base])
        assert {"get", "patch", "put", "delete"} <= set(paths[base + "({id})"])
        for prop in etype.properties:
            assert "get" in paths[f"{base}({{id}})/{prop.name}/$value"]
        for rel in etype.relations:
            assert "get" in paths[f"{base}({{id}})/{rel.name}/$ref"]


def test_every_platform_route_is_described(tmp_path: Path) -> None:
    """Each ``/api/`` route of the app (but the SSE stream) has its path and methods."""
    app = build_app(Settings.validated({"data_dir": tmp_path}))
    paths = openapi_document()["paths"]
    missing = []
    for route in app.routes:
        if not isinstance(route, Route) or not route.path.startswith("/api/") or route.path == "/api/live":
            continue
        path = route.path.replace(":id}", "}")
        for method in (route.methods or set()) - {"HEAD"}:
            if method.lower() not in paths.get(path, {}):
                missing.append(f"{method} {path}")
    assert not missing


def test_every_answer_of_4xx_uses_the_error_shape() -> None:
    for path, item in openapi_document()["paths"].items():
        for method, op in item.items():
            if method == "parameters":
                continue
            for status, response in op["responses"].items():
                if status.startswith("4"):
                    schema = response["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/Error"}, (path, method, status)


def test_served_for_the_default_tenant_and_each_tenant(tmp_path: Path) -> None:
    settings = Settings.validated({"data_dir": tmp_path})
    create_tenant(settings, "nord")
    with TestClient(build_app(settings)) as client:
        default = client.get("/api/openapi.json")
        assert default.status_code == 200
        assert default.headers["content-type"] == "application/json"
        assert default.json()["servers"] == [{"url": "/"}]
        nord = client.get("/t/nord/api/openapi.json")
        assert nord.status_code == 200 and nord.json()["servers"] == [{"url": "/t/nord"}]
        assert nord.json()["paths"] == default.json()["paths"]
        missing = client.get("/t/nowhere/api/openapi.json")
        assert missing.status_code == 404 and missing.json()["code"] == "not_found"
