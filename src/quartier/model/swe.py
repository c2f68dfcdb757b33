"""SWE Common JSON DataRecords: what a TaskingCapability's ``taskingParameters`` declare,
and the check of a Task's ``taskingParameters`` against them.

A DataRecord lists its ``field``s; each has a ``name`` and a ``type``:

* ``Quantity`` (a number with a ``uom``), ``Count`` (a whole number): an optional
  ``constraint`` of type ``AllowedValues`` with ``value`` (a list of numbers) and/or
  ``interval`` (a list of ``[min, max]`` pairs, both ends included);
* ``Category``, ``Text`` (strings): an optional ``constraint`` of type ``AllowedTokens``
  with ``value`` (a list of strings) and/or ``pattern`` (a regular expression);
* ``Boolean``.

A field is required in a Task unless it says ``"optional": true``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from quartier.errors import BadRequest
from quartier.model.times import _json_kind

_TYPES = ("Quantity", "Count", "Category", "Text", "Boolean")
_NUMERIC = ("Quantity", "Count")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,99}")


@dataclass(frozen=True)
class FieldRule:
    """One field of a DataRecord, as a Task's value for it is checked."""

    name: str
    type: str
    optional: bool
    values: tuple[Any, ...] | None  # allowed numbers or tokens; None: any
    intervals: tuple[tuple[float, float], ...] | None
    pattern: re.Pattern[str] | None

    def check(self, value: Any, what: str) -> None:
        if self.type == "Boolean":
            if not isinstance(value, bool):
                raise BadRequest(f"{what} must be true or false, not {_json_kind(value)}")
            return
        if self.type in _NUMERIC:
            self._check_number(value, what)
            return
        if not isinstance(value, str):
            raise BadRequest(f"{what} must be a string, not {_json_kind(value)}")
        if self.values is not None and value not in self.values and (
                self.pattern is None or not self.pattern.fullmatch(value)):
            raise BadRequest(f"{what} must be one of {', '.join(map(repr, self.values))}, "
                             f"not {value!r}")
        if self.values is None and self.pattern is not None and not self.pattern.fullmatch(value):
            raise BadRequest(f"{what} {value!r} does not match {self.pattern.pattern!r}")

    def _check_number(self, value: Any, what: str) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float) or (
                isinstance(value, float) and not math.isfinite(value)):
            raise BadRequest(f"{what} must be a number, not {_json_kind(value)}")
        if self.type == "Count" and not (isinstance(value, int) or float(value).is_integer()):
            raise BadRequest(f"{what} must be a whole number, not {value}")
        if self.values is None and self.intervals is None:
            return
        if self.values is not None and value in self.values:
            return
        if self.intervals is not None and any(lo <= value <= hi for lo, hi in self.intervals):
            return
        allowed = [*(str(v) for v in self.values or ()),
                   *(f"{lo}..{hi}" for lo, hi in self.intervals or ())]
        raise BadRequest(f"{what} must be {' or '.join(allowed)}, not {value}")


def parse_data_record(raw: Any, what: str = "taskingParameters") -> tuple[FieldRule, ...]:
    """The rules of a DataRecord; 400 naming the first thing wrong with it."""
    if not isinstance(raw, dict) or raw.get("type") != "DataRecord":
        raise BadRequest(f'{what} must be a SWE Common DataRecord: {{"type": "DataRecord", '
                         '"field": [{"name": …, "type": "Quantity" | "Count" | "Category" | '
                         '"Text" | "Boolean", …}]}')
    fields = raw.get("field")
    if not isinstance(fields, list) or not fields:
        raise BadRequest(f"{what}.field must be a non-empty array of fields")
    rules: list[FieldRule] = []
    for index, item in enumerate(fields):
        rule = _field(item, f"{what}.field[{index}]")
        if any(r.name == rule.name for r in rules):
            raise BadRequest(f"{what}.field[{index}]: the name {rule.name!r} is used twice")
        rules.append(rule)
    return tuple(rules)


def _field(raw: Any, what: str) -> FieldRule:
    if not isinstance(raw, dict):
        raise BadRequest(f"{what} must be a JSON object, not {_json_kind(raw)}")
    name = raw.get("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise BadRequest(f"{what}.name must be a name of letters, digits, '_', '.' or '-', "
                         f"not {name!r}")
    kind = raw.get("type")
    if kind not in _TYPES:
        raise BadRequest(f"{what}.type must be one of {', '.join(_TYPES)}, not {kind!r}")
    if kind == "Quantity":
        uom = raw.get("uom")
        if not isinstance(uom, dict) or not isinstance(uom.get("code") or uom.get("href"), str):
            raise BadRequest(f'{what}: a Quantity needs a uom, e.g. {{"code": "%"}}')
    optional = raw.get("optional", False)
    if not isinstance(optional, bool):
        raise BadRequest(f"{what}.optional must be true or false")
    values, intervals, pattern = _constraint(raw.get("constraint"), kind, f"{what}.constraint")
    return FieldRule(name, kind, optional, values, intervals, pattern)


def _constraint(raw: Any, kind: str, what: str) -> tuple[
        tuple[Any, ...] | None, tuple[tuple[float, float], ...] | None, re.Pattern[str] | None]:
    if raw is None:
        return None, None, None
    expected = "AllowedValues" if kind in _NUMERIC else "AllowedTokens"
    if kind == "Boolean" or not isinstance(raw, dict) or raw.get("type", expected) != expected:
        raise BadRequest(f"{what}: a {kind} takes " + (
            "no constraint" if kind == "Boolean" else f'a constraint of type "{expected}"'))
    values = raw.get("value")
    if values is not None:
        item_ok = _is_number if kind in _NUMERIC else (lambda v: isinstance(v, str))
        if not isinstance(values, list) or not all(item_ok(v) for v in values):
            raise BadRequest(f"{what}.value must be an array of "
                             + ("numbers" if kind in _NUMERIC else "strings"))
        values = tuple(values)
    if kind not in _NUMERIC:
        pattern = raw.get("pattern")
        if pattern is not None:
            try:
                compiled = re.compile(pattern) if isinstance(pattern, str) else None
            except re.error as exc:
                raise BadRequest(f"{what}.pattern is no regular expression: {exc}") from None
            if compiled is None:
                raise BadRequest(f"{what}.pattern must be a string")
            return values, None, compiled
        return values, None, None
    intervals = raw.get("interval")
    if intervals is not None:
        if not isinstance(intervals, list) or not all(
                isinstance(i, list) and len(i) == 2 and all(_is_number(v) for v in i)
                and i[0] <= i[1] for i in intervals):
            raise BadRequest(f"{what}.interval must be an array of [min, max] pairs of numbers")
        intervals = tuple((float(lo), float(hi)) for lo, hi in intervals)
    return values, intervals, None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def check_parameters(rules: tuple[FieldRule, ...], parameters: Any,
                     what: str = "Task.taskingParameters") -> None:
    """400 unless ``parameters`` give a valid value for every required field and no
    unknown one."""
    if not isinstance(parameters, dict):
        raise BadRequest(f"{what} must be a JSON object, not {_json_kind(parameters)}")
    known = {r.name: r for r in rules}
    unknown = sorted(set(parameters) - set(known))
    if unknown:
        raise BadRequest(f"{what} has no parameter {unknown[0]!r}; the TaskingCapability "
                         f"takes {', '.join(known)}")
    for rule in rules:
        if rule.name not in parameters:
            if not rule.optional:
                raise BadRequest(f"{what}.{rule.name} is required")
            continue
        rule.check(parameters[rule.name], f"{what}.{rule.name}")
    if not parameters:
        raise BadRequest(f"{what} sets no parameter; the TaskingCapability takes "
                         f"{', '.join(known)}")
