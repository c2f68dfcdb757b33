"""The whole OpenAPI 3.1 document: SensorThings paths made from the model, and the
platform APIs. Built once per process; each tenant's copy differs only in its server URL."""

from __future__ import annotations

import copy
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from quartier.openapi.operations import answer, errors, operation
from quartier.openapi.platform import platform_paths
from quartier.openapi.schemas import entity_components
from quartier.openapi.sensorthings import sensorthings_paths

_DESCRIPTION = (
    "Quartier serves the OGC SensorThings API 1.1 at /v1.1 (also /v1.0) and its platform APIs "
    "under /api/. Each tenant has the same API below /t/{tenant}; its document lists that "
    "prefix as the server. Every error answer has the JSON shape {code, message, …}."
)


def _version() -> str:
    try:
        return version("quartier")
    except PackageNotFoundError:  # run from a source tree that was not installed
        return "0"


@cache
def _document() -> dict[str, Any]:
    paths = {
        "/api/openapi.json": {"get": operation(
            "this document", "meta",
            {"200": answer({"type": "object", "required": ["openapi", "paths"]}), **errors(404)})},
        **sensorthings_paths(),
        **platform_paths(),
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "Quartier", "version": _version(), "description": _DESCRIPTION,
                 "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"}},
        "servers": [{"url": "/"}],
        "paths": paths,
        # Reads of public data need no key; every write needs one (see the README, Access).
        "security": [{}, {"bearer": []}, {"apiKey": []}],
        "components": {"schemas": entity_components(), "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer",
                       "description": "an API key (quartier key create), or a token (JWT) of "
                                      "the configured OpenID Connect issuer"},
            "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
        }},
    }


def openapi_document(server: str = "/") -> dict[str, Any]:
    """The document, with ``server`` (e.g. ``/t/nord``) as the base of every path."""
    out = copy.copy(_document())
    out["servers"] = [{"url": server}]
    return out
