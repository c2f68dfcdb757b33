"""``dataArray``: Observations as compact arrays, out (``$resultFormat``) and in
(``POST CreateObservations``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from quartier.errors import BadRequest
from quartier.model.changes import Batch, Create, IdRef
from quartier.model.entities import ENTITY_TYPES
from quartier.model.parse import parse_id
from quartier.model.times import now_utc
from quartier.model.values import PropertyParser, property_parser
from quartier.query.options import QueryOptions

if TYPE_CHECKING:
    from quartier.api.sensorthings.handlers import Context, Reply

_OBSERVATION = ENTITY_TYPES["Observation"]
_DATASTREAM = ENTITY_TYPES["Datastream"]
_FEATURE = ENTITY_TYPES["FeatureOfInterest"]
_DATA_ARRAY_DEFAULT = ("id", "phenomenonTime", "resultTime", "result", "resultQuality", "validTime",
                       "parameters")
_INPUT_COMPONENTS = ("phenomenonTime", "result", "resultTime", "resultQuality", "validTime",
                     "parameters", "FeatureOfInterest/id")
_Row = tuple[int, int | None, dict[str, Any]]  # Datastream id, FeatureOfInterest id, values


def data_array(rows: list[dict[str, Any]], options: QueryOptions, base: str) -> list[dict[str, Any]]:
    """Observations grouped by Datastream, each row an array of the components."""
    components = [c for c in (options.select or _DATA_ARRAY_DEFAULT) if c != "@iot.selfLink"]
    components = ["id" if c == "@iot.id" else c for c in components]
    groups: dict[int, list[list[Any]]] = {}
    for row in rows:
        groups.setdefault(row["Datastream"], []).append([row[c] for c in components])
    return [
        {
            "Datastream@iot.navigationLink": f"{base}/Datastreams({datastream})",
            "components": components,
            "dataArray@iot.count": len(values),
            "dataArray": values,
        }
        for datastream, values in groups.items()
    ]


async def create_observations(ctx: Context, body: Any) -> Reply:
    """``POST CreateObservations``: one selfLink or error per row, in request order.

    Rows that are malformed, or name a Datastream or FeatureOfInterest that does not
    exist, get their error; all other rows are written together, in one transaction.
    """
    from quartier.api.sensorthings.handlers import Reply

    if not isinstance(body, list):
        raise BadRequest("CreateObservations takes a JSON array of {Datastream, components, dataArray}")
    rows: list[_Row | str] = []
    times = _TimeParsers()
    for index, group in enumerate(body):
        rows.extend(_group_rows(group, index, times))
    await _check_links(ctx, rows)
    batch = Batch()
    # One reference per linked entity, shared by its rows.
    datastreams: dict[int, IdRef] = {}
    features: dict[int, IdRef] = {}
    for row in rows:
        if isinstance(row, tuple):
            datastream, feature, values = row
            ds_ref = datastreams.get(datastream)
            if ds_ref is None:
                ds_ref = datastreams[datastream] = IdRef(_DATASTREAM, datastream)
            keys: dict[str, Any] = {"Datastream": ds_ref}
            if feature is not None:
                feature_ref = features.get(feature)
                if feature_ref is None:
                    feature_ref = features[feature] = IdRef(_FEATURE, feature)
                keys["FeatureOfInterest"] = feature_ref
            batch.changes.append(Create(_OBSERVATION, values, keys))
    result = await ctx.store.write(ctx.tenant_id, batch) if batch.changes else None
    ids = iter(result.ids if result else [])
    links = [
        f"{ctx.base}/Observations({next(ids)})" if isinstance(row, tuple) else row for row in rows
    ]
    return Reply(201, links)


def _group_rows(group: Any, index: int, times: _TimeParsers) -> list[_Row | str]:
    what = f"item {index}"
    if not isinstance(group, dict):
        raise BadRequest(f"CreateObservations: {what} must be an object")
    datastream = group.get("Datastream")
    if not isinstance(datastream, dict) or "@iot.id" not in datastream:
        raise BadRequest(f"CreateObservations: {what} needs \"Datastream\": {{\"@iot.id\": …}}")
    datastream_id = parse_id(datastream["@iot.id"], f"{what}.Datastream.@iot.id")
    components = group.get("components")
    if not isinstance(components, list) or not all(isinstance(c, str) for c in components):
        raise BadRequest(f"CreateObservations: {what}.components must be an array of names")
    unknown = [c for c in components if c not in _INPUT_COMPONENTS]
    if unknown or len(set(components)) != len(components) or "result" not in components:
        raise BadRequest(
            f"CreateObservations: {what}.components must name result and may name "
            f"{', '.join(c for c in _INPUT_COMPONENTS if c != 'result')}, each once; got {components}"
        )
    data = group.get("dataArray")
    if not isinstance(data, list):
        raise BadRequest(f"CreateObservations: {what}.dataArray must be an array of arrays")
    parsers = [times.get(c) or _component_parser(c) for c in components]
    with_feature = "FeatureOfInterest/id" in components
    out: list[_Row | str] = []
    for number, values in enumerate(data):
        try:
            out.append(_row(datastream_id, components, parsers, with_feature, values))
        except BadRequest as exc:
            out.append(f"error: {what}.dataArray[{number}]: {exc.message}")
    return out


class _TimeParsers:
    """Parsers of the time components for one request, which remember what they parsed:
    the Datastreams of one request often share their times (a station measures several
    quantities at the same instants), and a parsed time is immutable."""

    def __init__(self) -> None:
        self._parsers: dict[str, PropertyParser] = {}

    def get(self, component: str) -> PropertyParser | None:
        if component not in _TIME_COMPONENTS:
            return None
        found = self._parsers.get(component)
        if found is None:
            found = self._parsers[component] = _remembering(_component_parser(component))
        return found


_TIME_COMPONENTS = frozenset({"phenomenonTime", "resultTime", "validTime"})


def _remembering(parse: PropertyParser) -> PropertyParser:
    seen: dict[str, Any] = {}

    def parse_text(raw: Any) -> Any:
        if type(raw) is not str:
            return parse(raw)
        found = seen.get(raw)
        if found is None:
            found = seen[raw] = parse(raw)
        return found

    return parse_text


def _component_parser(component: str) -> PropertyParser:
    if component == "FeatureOfInterest/id":
        return _feature_id
    prop = _OBSERVATION.find_property(component)
    assert prop is not None  # the components were checked against _INPUT_COMPONENTS
    return property_parser(_OBSERVATION, prop)


def _feature_id(raw: Any) -> int:
    return parse_id(raw, "FeatureOfInterest/id")


def _row(datastream: int, components: list[str], parsers: list[PropertyParser],
         with_feature: bool, values: Any) -> _Row:
    """One dataArray row: each value parsed by its component's parser."""
    if not isinstance(values, list) or len(values) != len(parsers):
        raise BadRequest(f"expected an array of {len(parsers)} values, one per component")
    parsed = {name: parse(raw) for name, parse, raw in zip(components, parsers, values, strict=True)}
    feature = parsed.pop("FeatureOfInterest/id") if with_feature else None
    if parsed.get("phenomenonTime") is None:
        parsed["phenomenonTime"] = (now_utc(), None)
    return datastream, feature, parsed


async def _check_links(ctx: Context, rows: list[_Row | str]) -> None:
    """Replace rows that cannot be written by an error: an unknown Datastream or
    FeatureOfInterest, or no FeatureOfInterest and no Location to make one from."""
    wanted = {
        "Datastream": {r[0] for r in rows if isinstance(r, tuple)},
        "FeatureOfInterest": {r[1] for r in rows if isinstance(r, tuple) and r[1] is not None},
    }
    found: dict[str, set[int]] = {name: set() for name in wanted}
    located: set[int] = set()  # Datastreams whose Thing has a Location
    async with ctx.store.reader() as conn:
        for name, ids in wanted.items():
            ordered = sorted(ids)
            table = ENTITY_TYPES[name].table
            extra = (", EXISTS (SELECT 1 FROM things_locations k WHERE k.thing_id = t.thing_id)"
                     if name == "Datastream" else ", 1")
            for start in range(0, len(ordered), 500):
                chunk = ordered[start:start + 500]
                for entity_id, has_location in await conn.fetch(
                    f"SELECT t.id{extra} FROM {table} t WHERE t.tenant_id = ? "
                    f"AND t.id IN ({', '.join('?' * len(chunk))})",
                    [ctx.tenant_id, *chunk],
                ):
                    found[name].add(int(entity_id))
                    if has_location:
                        located.add(int(entity_id))
    for index, row in enumerate(rows):
        if not isinstance(row, tuple):
            continue
        if row[0] not in found["Datastream"]:
            rows[index] = f"error: no Datastream({row[0]})"
        elif row[1] is not None and row[1] not in found["FeatureOfInterest"]:
            rows[index] = f"error: no FeatureOfInterest({row[1]})"
        elif row[1] is None and row[0] not in located:
            rows[index] = (f"error: the row has no FeatureOfInterest/id, and the Thing of "
                           f"Datastream({row[0]}) has no Location to make one from")
