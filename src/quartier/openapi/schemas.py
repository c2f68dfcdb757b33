"""JSON Schemas of SensorThings entities, made from the entity model (no per-entity text).

Each :class:`~quartier.model.entities.Kind` maps to one schema, once; an entity type's
response, create and update schemas are then read off its properties and relations.
"""

from __future__ import annotations

from typing import Any

from quartier.model.entities import ENTITY_TYPES, EntityType, Kind, Property

Schema = dict[str, Any]

ERROR: Schema = {
    "type": "object",
    "description": "The one error shape of every 4xx and 5xx answer; more members may give details.",
    "required": ["code", "message"],
    "properties": {
        "code": {"type": "string", "description": "stable machine-readable code, e.g. bad_request"},
        "message": {"type": "string", "description": "what went wrong, for people"},
    },
}

_TIME = {"type": "string", "description": "ISO 8601 instant with an offset"}
_INTERVAL = {"type": "string", "description": "ISO 8601 interval start/end"}
_KIND_SCHEMAS: dict[Kind, Schema] = {
    Kind.TEXT: {"type": "string"},
    Kind.JSON_OBJECT: {"type": "object"},
    Kind.JSON_ANY: {},
    Kind.UNIT: {
        "type": "object",
        "properties": {k: {"type": ["string", "null"]} for k in ("name", "symbol", "definition")},
    },
    Kind.GEOMETRY: {
        "type": "object", "required": ["type"], "description": "GeoJSON geometry or Feature",
        "properties": {"type": {"type": "string"}},
    },
    Kind.INSTANT: _TIME,
    Kind.INTERVAL: _INTERVAL,
    Kind.INSTANT_OR_INTERVAL: {"type": "string", "description": "ISO 8601 instant or interval"},
    Kind.RESULT: {},
}


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def property_schema(prop: Property, *, in_response: bool) -> Schema:
    """The schema of one property's value; null where the model lets it be null."""
    base = dict(_KIND_SCHEMAS[prop.kind])
    nullable = prop.kind in (Kind.RESULT, Kind.JSON_ANY) or prop.nullable or (
        in_response and prop.derived)
    if nullable and "type" in base:
        kinds = base["type"] if isinstance(base["type"], list) else [base["type"]]
        base["type"] = [*kinds, "null"]
    if prop.derived:
        base["readOnly"] = True
    return base


def entity_schema(etype: EntityType) -> Schema:
    """An entity as the server writes it, with ``$select`` and ``$expand`` in mind: every
    member may be missing, and a relation is a navigation link or the expanded entities."""
    props: Schema = {
        "@iot.id": {"type": "integer"},
        "@iot.selfLink": {"type": "string"},
    }
    for prop in etype.properties:
        props[prop.name] = property_schema(prop, in_response=True)
    for rel in etype.relations:
        props[f"{rel.name}@iot.navigationLink"] = {"type": "string"}
        if rel.many:
            props[rel.name] = {"type": "array", "items": ref(rel.target)}
            props[f"{rel.name}@iot.count"] = {"type": "integer"}
            props[f"{rel.name}@iot.nextLink"] = {"type": "string"}
        else:
            props[rel.name] = ref(rel.target)
    return {"type": "object", "properties": props, "additionalProperties": False}


def _link_or_new(target: str) -> Schema:
    return {"anyOf": [{"$ref": "#/components/schemas/EntityLink"}, ref(f"{target}-create")]}


def create_schema(etype: EntityType) -> Schema:
    """A POST body: required properties, and related entities linked by ``@iot.id`` or
    created with it (deep insert)."""
    props: Schema = {}
    required: list[str] = []
    for prop in etype.properties:
        if prop.derived:
            continue
        props[prop.name] = property_schema(prop, in_response=False)
        if prop.required:
            required.append(prop.name)
    for rel in etype.relations:
        one = _link_or_new(rel.target)
        props[rel.name] = {"type": "array", "items": one} if rel.many else one
    return {"type": "object", "properties": props, "required": required}


def update_schema(etype: EntityType) -> Schema:
    """A PATCH or PUT body: any of the properties, and links to related entities."""
    props: Schema = {}
    for prop in etype.properties:
        if not prop.derived:
            props[prop.name] = property_schema(prop, in_response=False)
    for rel in etype.relations:
        link = {"$ref": "#/components/schemas/EntityLink"}
        props[rel.name] = {"type": "array", "items": link} if rel.many else link
    return {"type": "object", "properties": props}


def collection_schema(item: Schema) -> Schema:
    return {
        "type": "object",
        "required": ["value"],
        "properties": {
            "value": {"type": "array", "items": item},
            "@iot.count": {"type": "integer"},
            "@iot.nextLink": {"type": "string"},
        },
        "additionalProperties": False,
    }


DATA_ARRAY_GROUP: Schema = {
    "type": "object",
    "required": ["components", "dataArray"],
    "properties": {
        "Datastream@iot.navigationLink": {"type": "string"},
        "components": {"type": "array", "items": {"type": "string"}},
        "dataArray@iot.count": {"type": "integer"},
        "dataArray": {"type": "array", "items": {"type": "array"}},
    },
}

FEATURE_COLLECTION: Schema = {
    "type": "object",
    "required": ["type", "features"],
    "properties": {
        "type": {"const": "FeatureCollection"},
        "features": {"type": "array", "items": {"type": "object"}},
        "@iot.count": {"type": "integer"},
        "@iot.nextLink": {"type": "string"},
    },
}

CREATE_OBSERVATIONS: Schema = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["Datastream", "components", "dataArray"],
        "properties": {
            "Datastream": {"$ref": "#/components/schemas/EntityLink"},
            "components": {"type": "array", "items": {"type": "string"}},
            "dataArray@iot.count": {"type": "integer"},
            "dataArray": {"type": "array", "items": {"type": "array"}},
        },
    },
}


def entity_components() -> dict[str, Schema]:
    """Every SensorThings schema the paths refer to, by name."""
    out: dict[str, Schema] = {
        "Error": ERROR,
        "EntityLink": {
            "type": "object", "required": ["@iot.id"],
            "properties": {"@iot.id": {"type": ["integer", "string"]}},
        },
        "DataArrayGroup": DATA_ARRAY_GROUP,
        "FeatureCollection": FEATURE_COLLECTION,
        "CreateObservations": CREATE_OBSERVATIONS,
    }
    for etype in ENTITY_TYPES.values():
        out[etype.name] = entity_schema(etype)
        out[f"{etype.name}-create"] = create_schema(etype)
        out[f"{etype.name}-update"] = update_schema(etype)
    return out
