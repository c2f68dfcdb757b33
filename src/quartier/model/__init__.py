"""The SensorThings data model, described as data."""

from quartier.model.entities import (
    ENTITY_SETS,
    ENTITY_TYPES,
    EntityType,
    Kind,
    Property,
    Relation,
    RelationKind,
    entity_type,
)

__all__ = [
    "ENTITY_SETS",
    "ENTITY_TYPES",
    "EntityType",
    "Kind",
    "Property",
    "Relation",
    "RelationKind",
    "entity_type",
]
