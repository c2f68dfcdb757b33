"""The SensorThings paths, generated from the entity model: entity sets, entities, their
properties and ``$value``, navigation, ``$ref``, and CreateObservations and ``$batch``."""

from __future__ import annotations

from typing import Any

from quartier.model.entities import ENTITY_SETS, EntityType, Relation
from quartier.openapi.operations import (
    BODY_ERRORS,
    LOCATION,
    answer,
    errors,
    json_body,
    operation,
    path_param,
    query,
)
from quartier.openapi.schemas import Schema, collection_schema, ref

TAG = "SensorThings"
JSON_PATCH = "application/json-patch+json"
_ID = path_param("id", {"type": "integer"})
_SINGLE_OPTIONS = [
    query("$select", {"type": "string"}, "comma-separated properties and navigation links"),
    query("$expand", {"type": "string"}, "related entities to include, with nested options"),
    query("$resultFormat", {"type": "string", "enum": ["GeoJSON"]}),
]
_COLLECTION_OPTIONS = [
    query("$filter", {"type": "string"}, "OData filter expression"),
    query("$orderby", {"type": "string"}, "e.g. phenomenonTime desc"),
    query("$top", {"type": "integer", "minimum": 0}),
    query("$skip", {"type": "integer", "minimum": 0}),
    query("$count", {"type": "boolean"}),
    query("$select", {"type": "string"}),
    query("$expand", {"type": "string"}),
    query("$resultFormat", {"type": "string", "enum": ["dataArray", "GeoJSON", "CSV"]}),
]
_SELF_LINK = {"type": "object", "required": ["@iot.selfLink"],
              "properties": {"@iot.selfLink": {"type": "string"}}}
_WRITE_ERRORS = (*BODY_ERRORS, 409, 422)


def _collection_read(etype: EntityType, summary: str) -> dict[str, Any]:
    json_schema = {"anyOf": [collection_schema(ref(etype.name)),
                             collection_schema(ref("DataArrayGroup")), ref("FeatureCollection")]}
    ok = answer(json_schema, f"a page of {etype.plural}")
    ok["content"]["text/csv"] = {"schema": {"type": "string"}}
    return operation(summary, TAG, {"200": ok, **errors(400, 404)}, parameters=_COLLECTION_OPTIONS)


def _create(etype: EntityType, summary: str) -> dict[str, Any]:
    return operation(summary, TAG, {
        "201": answer(ref(etype.name), f"the new {etype.name}", headers=LOCATION),
        **errors(*_WRITE_ERRORS),
    }, body=json_body(ref(f"{etype.name}-create")))


def _entity(etype: EntityType, params: list[dict[str, Any]]) -> dict[str, Any]:
    item: dict[str, Any] = {"parameters": params}
    item["get"] = operation(f"one {etype.name}", TAG, {
        "200": answer({"anyOf": [ref(etype.name), {"type": "object", "required": ["type"],
                                                   "properties": {"type": {"const": "Feature"}}}]}),
        **errors(400, 404)}, parameters=_SINGLE_OPTIONS)
    update = ref(f"{etype.name}-update")
    patch_body = json_body(update)
    patch_body["content"][JSON_PATCH] = {"schema": {"type": "array", "items": {"type": "object"}}}
    item["patch"] = operation(f"change a {etype.name} (merge, or JSON Patch)", TAG, {
        "200": answer(ref(etype.name)), **errors(*_WRITE_ERRORS)}, body=patch_body)
    item["put"] = operation(f"replace a {etype.name}", TAG, {
        "200": answer(ref(etype.name)), **errors(*_WRITE_ERRORS)},
        body=json_body(ref(f"{etype.name}-create")))
    item["delete"] = operation(f"delete a {etype.name} and what depends on it", TAG, {
        "200": answer(None, "deleted"), **errors(400, 404, 409)})
    return item


def _property_paths(etype: EntityType, base: str) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for prop in etype.properties:
        value = {"type": "object", "required": [prop.name], "additionalProperties": False,
                 "properties": {prop.name: {}}}
        paths[f"{base}/{prop.name}"] = {"parameters": [_ID], "get": operation(
            f"the {prop.name} of a {etype.name}", TAG,
            {"200": answer(value), "204": answer(None, "the value is null"), **errors(400, 404)})}
        paths[f"{base}/{prop.name}/$value"] = {"parameters": [_ID], "get": operation(
            f"the raw {prop.name} of a {etype.name}", TAG,
            {"200": answer({"type": "string"}, media="text/plain"),
             "204": answer(None, "the value is null"), **errors(400, 404)})}
    return paths


def _relation_paths(etype: EntityType, rel: Relation, base: str) -> dict[str, Any]:
    target = ENTITY_SETS_BY_NAME[rel.target]
    path = f"{base}/{rel.name}"
    read: dict[str, Any] = {"parameters": [_ID]}
    if rel.many:
        read["get"] = _collection_read(target, f"the {rel.name} of a {etype.name}")
        read["post"] = _create(target, f"create a {target.name} of a {etype.name}")
        refs = collection_schema(_SELF_LINK)
    else:
        read["get"] = operation(f"the {rel.name} of a {etype.name}", TAG, {
            "200": answer(ref(target.name)), **errors(400, 404)}, parameters=_SINGLE_OPTIONS)
        refs = _SELF_LINK
    links = {"parameters": [_ID], "get": operation(
        f"links to the {rel.name} of a {etype.name}", TAG,
        {"200": answer(refs), **errors(400, 404)})}
    return {path: read, f"{path}/$ref": links}


ENTITY_SETS_BY_NAME = {etype.name: etype for etype in ENTITY_SETS.values()}


def sensorthings_paths(root: str = "/v1.1") -> dict[str, Any]:
    """Every SensorThings path below ``root``."""
    paths: dict[str, Any] = {
        root: {"get": operation("the entity sets and conformance classes", TAG, {
            "200": answer({"type": "object", "required": ["value"]}), **errors(404)})},
        f"{root}/CreateObservations": {"post": operation(
            "many Observations in the dataArray format", TAG,
            {"201": answer({"type": "array", "items": {"type": "string"}},
                           "per row, the new Observation's selfLink or an error"),
             **errors(*BODY_ERRORS)},
            body=json_body(ref("CreateObservations")))},
        f"{root}/$batch": {"post": operation(
            "several requests in one (JSON or multipart/mixed batch)", TAG,
            {"200": _batch_answer(), **errors(*BODY_ERRORS)}, body=_batch_body())},
    }
    for etype in ENTITY_SETS.values():
        plural = f"{root}/{etype.plural}"
        paths[plural] = {"get": _collection_read(etype, f"the {etype.plural}"),
                         "post": _create(etype, f"create a {etype.name}")}
        paths[f"{plural}/$ref"] = {"get": operation(
            f"links to the {etype.plural}", TAG,
            {"200": answer(collection_schema(_SELF_LINK)), **errors(400, 404)},
            parameters=_COLLECTION_OPTIONS[:5])}
        single = f"{plural}({{id}})"
        paths[single] = _entity(etype, [_ID])
        paths.update(_property_paths(etype, single))
        for rel in etype.relations:
            paths.update(_relation_paths(etype, rel, single))
    return paths


def _batch_body() -> dict[str, Any]:
    request: Schema = {
        "type": "object", "required": ["id", "method", "url"],
        "properties": {"id": {"type": "string"}, "method": {"type": "string"},
                       "url": {"type": "string"}, "body": {}, "headers": {"type": "object"},
                       "atomicityGroup": {"type": "string"},
                       "dependsOn": {"type": "array", "items": {"type": "string"}}},
    }
    body = json_body({"type": "object", "required": ["requests"],
                      "properties": {"requests": {"type": "array", "items": request}}})
    body["content"]["multipart/mixed"] = {"schema": {"type": "string"}}
    return body


def _batch_answer() -> dict[str, Any]:
    item: Schema = {"type": "object", "required": ["id", "status"],
                    "properties": {"id": {"type": "string"}, "status": {"type": "integer"},
                                   "headers": {"type": "object"}, "body": {},
                                   "atomicityGroup": {"type": "string"}}}
    out = answer({"type": "object", "required": ["responses"],
                  "properties": {"responses": {"type": "array", "items": item}}})
    out["content"]["multipart/mixed"] = {"schema": {"type": "string"}}
    return out

