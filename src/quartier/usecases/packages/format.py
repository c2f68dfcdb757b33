"""The package file: read and checked as a whole before anything is written.

Every error is a 400 whose message starts with the path of the bad member (e.g.
``deviceProfiles[0].fields.power.unitOfMeasurement: …``), which also comes as ``path``
in the error body. The members are described in ``docs/packages.md``.

Inside a package nothing names an id of the town that exported it: a device profile's
fields and a rule's target name their ObservedProperty by its ``definition`` (one of the
package's ``observedProperties``), rules select Things by their properties (``kind``),
and TaskingCapability templates name the device profile whose devices get them.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from quartier.errors import BadRequest
from quartier.lorawan.profiles import Profile, parse_profile
from quartier.model.entities import ENTITY_TYPES
from quartier.model.parse import known_members, parse_members
from quartier.rules.definition import parse_rule
from quartier.usecases.lighting.groups import parse_group
from quartier.usecases.lighting.schedules import parse_schedule

FORMAT = 1
VIEWS = ("map", "alerts", "workorders", "flood", "explore", "lighting", "fleet", "environment",
         "parking")
_KEYS = {"format", "name", "version", "description", "kinds", "views", "observedProperties",
         "deviceProfiles", "taskingCapabilities", "rules", "lighting", "fleet", "leftOut"}
_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
_VERSION = re.compile(r"[0-9A-Za-z][0-9A-Za-z.+-]{0,31}")
_OBSERVED_PROPERTY = ENTITY_TYPES["ObservedProperty"]
# "fields.power: …", "condition.for must be …": the member a check names first.
_LEADING_PATH = re.compile(r"([a-z_][\w-]*(?:\[\d+\])*(?:\.[\w-]+(?:\[\d+\])*)*)(?:: | (?=must |is |has ))")
MAX_ITEMS = 1_000  # of each list
T = TypeVar("T")


@dataclass(frozen=True)
class Package:
    """A checked package file."""

    name: str
    version: str
    description: str
    kinds: tuple[str, ...]  # Thing properties/kind of the package's devices
    views: tuple[str, ...]
    observed_properties: dict[str, dict[str, Any]]  # definition -> name, definition, description
    profiles: tuple[Profile, ...]  # with their TaskingCapability templates
    rules: tuple[dict[str, Any], ...]  # bodies; targets may name {"definition": …}
    groups: tuple[tuple[str, dict[str, Any]], ...]
    schedules: tuple[tuple[str, dict[str, Any]], ...]
    retention_days: int | None
    body: dict[str, Any] = field(repr=False)  # the file as given


class PackageError(BadRequest):
    """A bad package file: 400 whose message and ``path`` name the bad member."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}" if path else reason, path=path)
        self.path = path
        self.reason = reason


def _join(outer: str, inner: str) -> str:
    if not outer or not inner:
        return outer or inner
    return outer + inner if inner.startswith("[") else f"{outer}.{inner}"


@contextmanager
def at(path: str) -> Iterator[None]:
    """Put ``path`` in front of the path of a 400 raised inside."""
    try:
        yield
    except PackageError as exc:
        raise PackageError(_join(path, exc.path), exc.reason) from None
    except BadRequest as exc:
        # The checks of profiles and rules name the member they found wrong first
        # ("fields.power: …"): that becomes part of the path.
        found = _LEADING_PATH.match(exc.message)
        if found is None:
            raise PackageError(path, exc.message) from None
        raise PackageError(_join(path, found.group(1)), exc.message[found.end():]) from None


def _list(body: dict[str, Any], key: str, check: Callable[[Any], T]) -> list[T]:
    raw = body.get(key, [])
    if not isinstance(raw, list) or len(raw) > MAX_ITEMS:
        raise PackageError(key, f"must be a list of at most {MAX_ITEMS} items")
    out = []
    for i, item in enumerate(raw):
        with at(f"{key}[{i}]"):
            out.append(check(item))
    return out


def parse_package(body: Any) -> Package:
    """The package in ``body`` (parsed JSON); 400 with the path of the first problem."""
    if not isinstance(body, dict):
        raise BadRequest("a package is a JSON object with format, name, version and description")
    with at(""):
        known_members(body, _KEYS, "a package")
    if body.get("format") != FORMAT:
        raise PackageError("format", f"this Quartier reads package format {FORMAT}, not "
                                     f"{body.get('format')!r}")
    name = body.get("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise PackageError("name", "1 to 64 lower-case letters, digits, '.', '_' or '-', not "
                                   f"{name!r}")
    version = body.get("version")
    if not isinstance(version, str) or not _VERSION.fullmatch(version):
        raise PackageError("version", f'a version such as "1.2.0", not {version!r}')
    description = body.get("description", "")
    if not isinstance(description, str):
        raise PackageError("description", "must be a string")
    kinds = _strings(body, "kinds")
    views = _strings(body, "views")
    for i, view in enumerate(views):
        if view not in VIEWS:
            raise PackageError(f"views[{i}]", f"the dashboard has the views {', '.join(VIEWS)}, "
                                              f"not {view!r}")
    observed = {op["definition"]: op for op in _list(body, "observedProperties", _observed_property)}
    profiles = _list(body, "deviceProfiles", lambda raw: _profile(raw, observed))
    by_name = {p.name: p for p in profiles}
    if len(by_name) < len(profiles):
        raise PackageError("deviceProfiles", "two profiles have the same name")
    for capability in _list(body, "taskingCapabilities", lambda raw: _capability(raw, by_name)):
        profile, template = capability
        by_name[profile] = _with_capability(by_name[profile], template)
    rules = _list(body, "rules", lambda raw: _rule(raw, observed))
    if len({r["name"] for r in rules}) < len(rules):
        raise PackageError("rules", "two rules have the same name")
    groups, schedules = _lighting(body.get("lighting", {}))
    return Package(name, version, description, tuple(kinds), tuple(views), observed,
                   tuple(by_name.values()), tuple(rules), tuple(groups), tuple(schedules),
                   _retention(body.get("fleet", {})), body)


def _strings(body: dict[str, Any], key: str) -> list[str]:
    raw = body.get(key, [])
    if not isinstance(raw, list) or not all(isinstance(v, str) and v for v in raw):
        raise PackageError(key, "must be a list of non-empty strings")
    return list(raw)


def _observed_property(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise BadRequest("must be an object with name, definition and description")
    known_members(raw, {"name", "definition", "description"}, "an ObservedProperty")
    parse_members(_OBSERVED_PROPERTY, raw)
    for key in ("name", "definition", "description"):
        if not isinstance(raw.get(key), str) or not raw[key]:
            raise BadRequest(f"{key} is required (a non-empty string)")
    return dict(raw)


def _reference(raw: Any, observed: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The ObservedProperty a definition names; 400 when the package has none such."""
    if not isinstance(raw, str) or raw not in observed:
        raise BadRequest(f"{raw!r} is the definition of none of the package's "
                         "observedProperties")
    return observed[raw]


def _profile(raw: Any, observed: dict[str, dict[str, Any]]) -> Profile:
    if not isinstance(raw, dict):
        raise BadRequest("a device profile is an object with name and fields")
    if "taskingCapabilities" in raw:
        raise BadRequest("taskingCapabilities go in the package's own list, each naming its profile")
    fields = raw.get("fields")
    body = copy.deepcopy(raw)
    if isinstance(fields, dict):
        for key, spec in fields.items():
            if isinstance(spec, dict) and "observedProperty" in spec:
                with at(f"fields.{key}.observedProperty"):
                    body["fields"][key]["observedProperty"] = _reference(spec["observedProperty"], observed)
    return parse_profile(body)


def _capability(raw: Any, profiles: dict[str, Profile]) -> tuple[str, Any]:
    if not isinstance(raw, dict):
        raise BadRequest("a TaskingCapability template is an object with profile, name, "
                         "description and taskingParameters")
    profile = raw.get("profile")
    if profile not in profiles:
        raise PackageError("profile", f"{profile!r} is none of the package's deviceProfiles "
                         f"({', '.join(sorted(profiles)) or 'it has none'})")
    template = {k: v for k, v in raw.items() if k != "profile"}
    try:
        parsed = parse_profile({**profiles[profile].as_json(), "taskingCapabilities": [template]})
    except BadRequest as exc:  # named as the template in a profile; here it is the item itself
        inner = "taskingCapabilities[0]"
        raise BadRequest(exc.message.removeprefix(f"{inner}: ").removeprefix(f"{inner}.")) from None
    return str(profile), parsed.capabilities[0]


def _with_capability(profile: Profile, template: Any) -> Profile:
    return replace(profile, capabilities=(*profile.capabilities, template))


def _rule(raw: Any, observed: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """A rule body, checked with its ObservedProperty reference bound to a stand-in id."""
    if not isinstance(raw, dict):
        raise BadRequest("a rule is an object with name, target and condition")
    target = raw.get("target")
    probe = copy.deepcopy(raw)
    if isinstance(target, dict):
        if "datastream" in target or "thing" in target or isinstance(target.get("observedProperty"), int):
            raise PackageError("target", "a package's rules select Datastreams by observedProperty "
                                         "and Things by their properties, never by the id of one "
                                         "town's entity")
        reference = target.get("observedProperty")
        if isinstance(reference, dict) and set(reference) == {"definition"}:
            with at("target.observedProperty"):
                _reference(reference["definition"], observed)
            probe["target"]["observedProperty"] = 1
    parse_rule(probe)
    return dict(raw)


def _lighting(raw: Any) -> tuple[list[tuple[str, dict[str, Any]]], list[tuple[str, dict[str, Any]]]]:
    with at("lighting"):
        if not isinstance(raw, dict):
            raise BadRequest("must be an object with groups and schedules")
        known_members(raw, {"groups", "schedules"}, "lighting")
        groups = _list(raw, "groups", _group)
        schedules = _list(raw, "schedules", _schedule)
    return groups, schedules


def _schedule(raw: Any) -> tuple[str, dict[str, Any]]:
    name, definition = parse_schedule(raw)
    if "thing" in definition["target"]:
        raise PackageError("target", "a package's schedules name a group, a district or a "
                           "circuit, not a Thing id")
    return name, definition


def _group(raw: Any) -> tuple[str, dict[str, Any]]:
    name, definition = parse_group(raw)
    if "things" in definition:
        raise BadRequest("a package's groups select lamps by a filter, not by Thing ids")
    return name, definition


def _retention(raw: Any) -> int | None:
    with at("fleet"):
        if not isinstance(raw, dict):
            raise BadRequest("must be an object, e.g. {\"retentionDays\": 90}")
        known_members(raw, {"retentionDays"}, "fleet")
        days = raw.get("retentionDays")
        if days is not None and (isinstance(days, bool) or not isinstance(days, int)
                                 or not 1 <= days <= 36_500):
            raise PackageError("retentionDays", f"a whole number of days from 1 to 36500, not {days!r}")
    return days
