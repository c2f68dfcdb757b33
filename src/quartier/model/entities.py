"""The entity types of SensorThings API 1.1 as data: the eight of Part 1 (Sensing, OGC
18-088) and the three of Part 2 (Tasking Core, OGC 17-079r1).

Handlers, the store and the serializer are written once and read these tables; adding a
property or relation here is enough for it to be parsed, stored and served.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class Kind(Enum):
    """How a property's value is validated, stored and written out."""

    TEXT = "text"
    JSON_OBJECT = "json_object"  # properties, parameters: a JSON object
    JSON_ANY = "json_any"  # metadata, resultQuality: any JSON value
    UNIT = "unit"  # unitOfMeasurement: an object with name, symbol, definition
    GEOMETRY = "geometry"  # GeoJSON
    INSTANT = "instant"  # ISO 8601 time instant
    INTERVAL = "interval"  # ISO 8601 interval start/end
    INSTANT_OR_INTERVAL = "instant_or_interval"  # phenomenonTime
    RESULT = "result"  # an Observation's result: any JSON value, stored by type


@dataclass(frozen=True)
class Property:
    """One property of an entity type."""

    name: str
    kind: Kind
    column: str
    required: bool = False
    nullable: bool = True
    # Computed by the server (a Datastream's time ranges and area); ignored on input.
    derived: bool = False
    # Property always written out, as null when unset (an Observation's resultTime).
    always_emitted: bool = True

    @property
    def columns(self) -> tuple[str, ...]:
        if self.kind in (Kind.INTERVAL, Kind.INSTANT_OR_INTERVAL):
            return (f"{self.column}_start", f"{self.column}_end")
        if self.kind is Kind.RESULT:
            return ("result_type", "result_number", "result_string", "result_json")
        return (self.column,)


class RelationKind(Enum):
    FOREIGN_KEY = "foreign_key"  # this table holds the target's id
    REVERSE_KEY = "reverse_key"  # the target's table holds this entity's id
    LINK_TABLE = "link_table"  # a separate table links the two


@dataclass(frozen=True)
class Relation:
    """A navigation property from one entity type to another."""

    name: str
    target: str
    kind: RelationKind
    many: bool
    column: str = ""  # FOREIGN_KEY: column here; REVERSE_KEY: column in the target table
    link_table: str = ""
    link_self: str = ""  # LINK_TABLE: column holding this entity's id
    link_other: str = ""  # LINK_TABLE: column holding the target's id
    required: bool = False
    inverse: str = ""  # the relation's name seen from the target


@dataclass(frozen=True)
class EntityType:
    """One SensorThings entity type: its names, table, properties and relations."""

    name: str
    plural: str
    table: str
    properties: tuple[Property, ...]
    relations: tuple[Relation, ...]
    # Where reads find the rows, when that is not ``table`` (a view over it and more).
    source: str = ""
    _by_name: dict[str, Property | Relation] = field(
        default_factory=dict, compare=False, repr=False
    )

    def __post_init__(self) -> None:
        members: tuple[Property | Relation, ...] = (*self.properties, *self.relations)
        for member in members:
            self._by_name[member.name] = member

    def __hash__(self) -> int:
        return hash(self.name)

    def member(self, name: str) -> Property | Relation | None:
        return self._by_name.get(name)

    def find_relation(self, name: str) -> Relation | None:
        found = self._by_name.get(name)
        return found if isinstance(found, Relation) else None

    @property
    def rows(self) -> str:
        """The table or view that reads select from."""
        return self.source or self.table

    def find_property(self, name: str) -> Property | None:
        found = self._by_name.get(name)
        return found if isinstance(found, Property) else None

    @property
    def columns(self) -> tuple[str, ...]:
        """Every stored column, in a fixed order: id, properties, foreign keys."""
        cols: list[str] = ["id"]
        for prop in self.properties:
            cols.extend(prop.columns)
        for rel in self.relations:
            if rel.kind is RelationKind.FOREIGN_KEY:
                cols.append(rel.column)
        return tuple(cols)


def _text(name: str, column: str, required: bool = True) -> Property:
    return Property(name, Kind.TEXT, column, required=required, nullable=not required)


def _props(name: str = "properties", column: str = "properties") -> Property:
    return Property(name, Kind.JSON_OBJECT, column, always_emitted=False)


def _fk(name: str, target: str, column: str, inverse: str, required: bool = True) -> Relation:
    return Relation(
        name, target, RelationKind.FOREIGN_KEY, False, column=column, required=required,
        inverse=inverse,
    )


def _rk(name: str, target: str, column: str, inverse: str) -> Relation:
    return Relation(name, target, RelationKind.REVERSE_KEY, True, column=column, inverse=inverse)


def _link(name: str, target: str, table: str, self_col: str, other_col: str, inverse: str) -> Relation:
    return Relation(
        name, target, RelationKind.LINK_TABLE, True, link_table=table, link_self=self_col,
        link_other=other_col, inverse=inverse,
    )


_NAME = _text("name", "name")
_DESCRIPTION = _text("description", "description")

THING = EntityType(
    "Thing", "Things", "things",
    (_NAME, _DESCRIPTION, _props()),
    (
        _link("Locations", "Location", "things_locations", "thing_id", "location_id", "Things"),
        _rk("HistoricalLocations", "HistoricalLocation", "thing_id", "Thing"),
        _rk("Datastreams", "Datastream", "thing_id", "Thing"),
        _rk("TaskingCapabilities", "TaskingCapability", "thing_id", "Thing"),
    ),
)

LOCATION = EntityType(
    "Location", "Locations", "locations",
    (
        _NAME, _DESCRIPTION,
        _text("encodingType", "encoding_type"),
        Property("location", Kind.GEOMETRY, "location", required=True, nullable=False),
        _props(),
    ),
    (
        _link("Things", "Thing", "things_locations", "location_id", "thing_id", "Locations"),
        _link(
            "HistoricalLocations", "HistoricalLocation", "historical_locations_locations",
            "location_id", "historical_location_id", "Locations",
        ),
    ),
)

HISTORICAL_LOCATION = EntityType(
    "HistoricalLocation", "HistoricalLocations", "historical_locations",
    (Property("time", Kind.INSTANT, "time", required=True, nullable=False),),
    (
        _fk("Thing", "Thing", "thing_id", "HistoricalLocations"),
        _link(
            "Locations", "Location", "historical_locations_locations",
            "historical_location_id", "location_id", "HistoricalLocations",
        ),
    ),
)

DATASTREAM = EntityType(
    "Datastream", "Datastreams", "datastreams",
    (
        _NAME, _DESCRIPTION,
        Property("unitOfMeasurement", Kind.UNIT, "unit_of_measurement", required=True,
                 nullable=False),
        _text("observationType", "observation_type"),
        Property("observedArea", Kind.GEOMETRY, "observed_area", derived=True,
                 always_emitted=False),
        Property("phenomenonTime", Kind.INTERVAL, "phenomenon_time", derived=True,
                 always_emitted=False),
        Property("resultTime", Kind.INTERVAL, "result_time", derived=True,
                 always_emitted=False),
        _props(),
    ),
    (
        _fk("Thing", "Thing", "thing_id", "Datastreams"),
        _fk("Sensor", "Sensor", "sensor_id", "Datastreams"),
        _fk("ObservedProperty", "ObservedProperty", "observed_property_id", "Datastreams"),
        _rk("Observations", "Observation", "datastream_id", "Datastream"),
    ),
)

SENSOR = EntityType(
    "Sensor", "Sensors", "sensors",
    (
        _NAME, _DESCRIPTION,
        _text("encodingType", "encoding_type"),
        Property("metadata", Kind.JSON_ANY, "metadata", required=True, nullable=False),
        _props(),
    ),
    (_rk("Datastreams", "Datastream", "sensor_id", "Sensor"),),
)

OBSERVED_PROPERTY = EntityType(
    "ObservedProperty", "ObservedProperties", "observed_properties",
    (_NAME, _text("definition", "definition"), _DESCRIPTION, _props()),
    (_rk("Datastreams", "Datastream", "observed_property_id", "ObservedProperty"),),
)

OBSERVATION = EntityType(
    "Observation", "Observations", "observations",
    (
        # Required by the spec, but the server fills in the current time when it is missing.
        Property("phenomenonTime", Kind.INSTANT_OR_INTERVAL, "phenomenon_time", nullable=False),
        Property("result", Kind.RESULT, "result", required=True),
        Property("resultTime", Kind.INSTANT, "result_time"),
        Property("resultQuality", Kind.JSON_ANY, "result_quality", always_emitted=False),
        Property("validTime", Kind.INTERVAL, "valid_time", always_emitted=False),
        _props("parameters", "parameters"),
    ),
    (
        _fk("Datastream", "Datastream", "datastream_id", "Observations"),
        # Required, but made from the Thing's Location when the client gives none.
        _fk("FeatureOfInterest", "FeatureOfInterest", "feature_id", "Observations",
            required=False),
    ),
    source="observation_rows",  # recent and archived Observations (store/archive.py)
)

FEATURE_OF_INTEREST = EntityType(
    "FeatureOfInterest", "FeaturesOfInterest", "features",
    (
        _NAME, _DESCRIPTION,
        _text("encodingType", "encoding_type"),
        Property("feature", Kind.GEOMETRY, "feature", required=True, nullable=False),
        _props(),
    ),
    (_rk("Observations", "Observation", "feature_id", "FeatureOfInterest"),),
)

# -- Part 2: Tasking Core ---------------------------------------------------------------

ACTUATOR = EntityType(
    "Actuator", "Actuators", "actuators",
    (
        _NAME, _DESCRIPTION,
        _text("encodingType", "encoding_type"),
        Property("metadata", Kind.JSON_ANY, "metadata", required=True, nullable=False),
        _props(),
    ),
    (_rk("TaskingCapabilities", "TaskingCapability", "actuator_id", "Actuator"),),
)

TASKING_CAPABILITY = EntityType(
    "TaskingCapability", "TaskingCapabilities", "tasking_capabilities",
    (
        _NAME, _DESCRIPTION,
        # A SWE Common JSON DataRecord: the parameters a Task may set (model/tasking.py).
        Property("taskingParameters", Kind.JSON_OBJECT, "tasking_parameters", required=True,
                 nullable=False),
        _props(),
    ),
    (
        _fk("Thing", "Thing", "thing_id", "TaskingCapabilities"),
        _fk("Actuator", "Actuator", "actuator_id", "TaskingCapabilities"),
        _rk("Tasks", "Task", "tasking_capability_id", "TaskingCapability"),
    ),
)

TASK = EntityType(
    "Task", "Tasks", "tasks",
    (
        Property("creationTime", Kind.INSTANT, "creation_time", derived=True),
        Property("taskingParameters", Kind.JSON_OBJECT, "tasking_parameters", required=True,
                 nullable=False),
        # Quartier's extension: where the Task's delivery stands (created, sent, confirmed,
        # failed), since when, and why (a failure's reason). Kept by the server.
        Property("status", Kind.TEXT, "status", derived=True),
        Property("statusTime", Kind.INSTANT, "status_time", derived=True),
        Property("statusReason", Kind.TEXT, "status_reason", derived=True,
                 always_emitted=False),
    ),
    (_fk("TaskingCapability", "TaskingCapability", "tasking_capability_id", "Tasks"),),
)

ENTITY_TYPES: dict[str, EntityType] = {
    t.name: t
    for t in (
        THING, LOCATION, HISTORICAL_LOCATION, DATASTREAM, SENSOR, OBSERVED_PROPERTY,
        OBSERVATION, FEATURE_OF_INTEREST, TASKING_CAPABILITY, TASK, ACTUATOR,
    )
}
ENTITY_SETS: dict[str, EntityType] = {t.plural: t for t in ENTITY_TYPES.values()}


def entity_type(name: str) -> EntityType:
    return ENTITY_TYPES[name]
