"""Which alert events a channel sends: the routing rules, in one place.

* A rule that lists channels (``"notify": [...]`` in its definition) reaches only those;
  an alert without such a list may reach every channel of its tenant.
* News (opened, escalated, reminder) goes out when the alert's severity is at least the
  channel's ``minSeverity``, its area intersects the channel's ``area`` (when it has one),
  and, inside a quiet period, only when the alert is severe or extreme.
* Once a channel has told of an alert, it also tells of its later changes
  (de-escalation, acknowledgement, all-clear), so nobody who was warned misses the
  all-clear; outside of that the same tests apply to them.
* A channel sends only the kinds of event in its ``events`` list; a CAP feed publishes
  opened, escalated, de-escalated and resolved only (see :mod:`quartier.notify.cap`).

Routing looks at the event's own time, not the clock when it is decided, so that deciding
again (after a restart) gives the same answer.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shapely.errors import ShapelyError
from shapely.geometry import shape

from quartier.notify.channels import SEVERITIES, Channel

NEWS = frozenset({"opened", "escalated", "reminder"})
CAP_KINDS = frozenset({"opened", "escalated", "deescalated", "resolved"})
_LOUD = SEVERITIES.index("severe")


def severity_rank(alert: dict[str, Any]) -> int:
    severity = alert.get("severity")
    return SEVERITIES.index(severity) if severity in SEVERITIES else 0


def in_quiet_period(channel: Channel, at: datetime) -> bool:
    local = at.astimezone(channel.zone)
    return any(period.covers(local) for period in channel.quiet_periods)


def in_area(channel: Channel, alert: dict[str, Any]) -> bool:
    area = channel.area
    if area is None:
        return True
    where = alert.get("area")
    if not isinstance(where, dict):
        return False
    try:
        geometry = shape(where.get("geometry", where) if where.get("type") == "Feature" else where)
        return bool(area.intersects(geometry))
    except (KeyError, TypeError, ValueError, AttributeError, ShapelyError):
        return False  # a place that cannot be read lies in no area


def routes(channel: Channel, kind: str, at: datetime, alert: dict[str, Any],
           notify: list[str] | None, reported: bool) -> bool:
    """Whether ``channel`` sends an event of ``kind`` at ``at`` about ``alert`` (the
    snapshot), given the rule's ``notify`` list and whether the channel already ``reported``
    this alert."""
    if not channel.enabled:
        return False
    if notify is not None and channel.name not in notify:
        return False
    if channel.kind == "cap":
        if kind not in CAP_KINDS or (kind == "resolved" and not reported):
            return False
    elif kind not in channel.events:
        return False
    if reported and kind not in NEWS:
        return True
    rank = severity_rank(alert)
    if rank < channel.min_severity or not in_area(channel, alert):
        return False
    return not (rank < _LOUD and in_quiet_period(channel, at))
