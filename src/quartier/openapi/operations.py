"""Small builders for OpenAPI operations: JSON bodies, answers and the error answers."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from quartier.openapi.schemas import Schema, ref

JSON = "application/json"


def json_body(schema: Schema, *, media: str = JSON, required: bool = True) -> dict[str, Any]:
    return {"required": required, "content": {media: {"schema": schema}}}


def answer(schema: Schema | None = None, description: str = "", media: str = JSON,
           headers: dict[str, Any] | None = None) -> dict[str, Any]:
    """One response; no schema means no body."""
    out: dict[str, Any] = {"description": description or "success"}
    if schema is not None:
        out["content"] = {media: {"schema": schema}}
    if headers:
        out["headers"] = headers
    return out


def errors(*statuses: int) -> dict[str, Any]:
    """Error answers, each with the one error shape."""
    return {
        str(status): {
            "description": HTTPStatus(status).phrase,
            "content": {JSON: {"schema": ref("Error")}},
        }
        for status in statuses
    }


LOCATION = {"Location": {"description": "the new resource's URL", "schema": {"type": "string"}}}
# What a body-reading operation may answer besides success: bad JSON, too large, wrong
# media type, and the tenant or a named resource missing.
BODY_ERRORS = (400, 404, 413, 415)


def operation(summary: str, tag: str, responses: dict[str, Any], *,
              parameters: list[dict[str, Any]] | None = None,
              body: dict[str, Any] | None = None) -> dict[str, Any]:
    # Any request may bring a key that is unknown, expired or revoked (401), or one whose
    # role or scopes do not reach (403).
    out: dict[str, Any] = {"summary": summary, "tags": [tag], "responses": {**errors(401, 403), **responses}}
    if parameters:
        out["parameters"] = parameters
    if body is not None:
        out["requestBody"] = body
    return out


def query(name: str, schema: Schema, description: str = "") -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema,
            "description": description or name}


def path_param(name: str, schema: Schema | None = None) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": schema or {"type": "string"}}
