"""The public warning feed in OASIS CAP 1.2: messages as data, as XML, and as an Atom feed.

A ``cap`` channel publishes an alert's changes as CAP messages: the first message about an
alert is ``Alert``, later ones (escalation, de-escalation) are ``Update`` and the all-clear
is ``Cancel``, each ``Update`` and ``Cancel`` naming every earlier message of the same
alert in ``references``. A message is made once, when it is published, and never changes.

Its JSON form uses the CAP element names (``info`` and ``area`` as lists); the XML form is
the same tree in the CAP namespace. Times are written as CAP wants them: seconds, and the
offset of UTC as ``-00:00`` (CAP forbids ``Z``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from shapely.errors import ShapelyError
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

CAP_NAMESPACE = "urn:oasis:names:tc:emergency:cap:1.2"
ATOM_NAMESPACE = "http://www.w3.org/2005/Atom"
CAP_SEVERITY = {"minor": "Minor", "moderate": "Moderate", "severe": "Severe", "extreme": "Extreme"}
POINT_RADIUS_KM = 1.0  # a gauge or lamp is a point; CAP's circle needs a radius
_ALL_CLEAR = {"de": "Entwarnung", "en": "All clear"}


def cap_time(value: datetime) -> str:
    """``2026-11-22T10:00:00-00:00``: CAP's form of a time in UTC."""
    return value.astimezone(UTC).replace(tzinfo=None, microsecond=0).isoformat() + "-00:00"


def identifier(tenant: str, message_id: int) -> str:
    return f"urn:quartier:{tenant}:cap:{message_id}"


def build_message(
    *, message_id: int, tenant: str, kind: str, at: datetime, alert: dict[str, Any],
    config: dict[str, Any], rule_cap: dict[str, Any], earlier: list[dict[str, Any]],
) -> dict[str, Any]:
    """The CAP message for an alert event published on a channel with CAP ``config``;
    ``rule_cap`` may give ``category``, ``event``, ``instruction`` and ``areaDesc``;
    ``earlier`` are the messages this channel published before about the same alert."""
    sent = cap_time(at)
    msg_type = "Cancel" if kind == "resolved" else "Update" if earlier else "Alert"
    message: dict[str, Any] = {
        "identifier": identifier(tenant, message_id),
        "sender": config["sender"],
        "sent": sent,
        "status": "Actual",
        "msgType": msg_type,
        "scope": "Public",
    }
    if earlier:
        message["references"] = " ".join(
            f"{m['sender']},{m['identifier']},{m['sent']}" for m in earlier)
    message["info"] = [_info(msg_type, at, alert, config, rule_cap)]
    return message


def _info(msg_type: str, at: datetime, alert: dict[str, Any], config: dict[str, Any],
          rule_cap: dict[str, Any]) -> dict[str, Any]:
    language = config["language"]
    event = str(rule_cap.get("event") or alert.get("rule") or "Alert")
    over = msg_type == "Cancel"
    level = str(alert.get("levelName") or alert.get("level") or "")
    if over:
        word = _ALL_CLEAR.get(language.split("-")[0].lower(), _ALL_CLEAR["en"])
        headline = f"{word}: {event}"
    else:
        headline = f"{level}: {event}" if level else event
    info: dict[str, Any] = {
        "language": language,
        "category": [rule_cap.get("category") or config.get("category") or "Other"],
        "event": event,
    }
    if over:
        info["responseType"] = ["AllClear"]
    info["urgency"] = "Past" if over else "Immediate"
    info["severity"] = CAP_SEVERITY.get(str(alert.get("severity")), "Unknown")
    info["certainty"] = "Observed"
    info["effective"] = cap_time(at)
    opened = _parse(alert.get("openedAt"))
    if opened is not None:
        info["onset"] = cap_time(opened)
    info["expires"] = cap_time(at + timedelta(hours=float(config["expiresHours"])))
    if config.get("senderName"):
        info["senderName"] = config["senderName"]
    info["headline"] = headline[:160]
    info["description"] = str(alert.get("message") or headline)
    instruction = rule_cap.get("instruction") or config.get("instruction")
    if instruction and not over:
        info["instruction"] = str(instruction)
    if config.get("web"):
        info["web"] = config["web"]
    info["parameter"] = [
        {"valueName": name, "value": str(value)}
        for name, value in (("alertId", alert.get("id")), ("level", alert.get("level")),
                            ("levelName", alert.get("levelName")), ("value", alert.get("value")),
                            ("peak", alert.get("peak")), ("observedAt", alert.get("observedAt")))
        if value is not None
    ]
    info["area"] = [_area(alert, rule_cap)]
    return info


def _area(alert: dict[str, Any], rule_cap: dict[str, Any]) -> dict[str, Any]:
    raw = alert.get("area")
    name = None
    if isinstance(raw, dict) and raw.get("type") == "Feature":
        name = (raw.get("properties") or {}).get("name")
        raw = raw.get("geometry")
    area: dict[str, Any] = {
        "areaDesc": str(rule_cap.get("areaDesc") or name or alert.get("subject") or "—")}
    geometry = _geometry(raw)
    if geometry is None:
        return area
    polygons, circles = [], []
    parts = list(getattr(geometry, "geoms", [geometry]))
    for part in parts:
        if part.geom_type == "Polygon":
            polygons.append(" ".join(f"{lat:.6f},{lon:.6f}" for lon, lat, *_ in part.exterior.coords))
        elif part.geom_type == "Point":
            circles.append(f"{part.y:.6f},{part.x:.6f} {POINT_RADIUS_KM}")
        else:  # a line: the circle around it
            center = part.centroid
            radius_km = max(part.hausdorff_distance(center) * 111.32, POINT_RADIUS_KM)
            circles.append(f"{center.y:.6f},{center.x:.6f} {radius_km:.3f}")
    if polygons:
        area["polygon"] = polygons
    if circles:
        area["circle"] = circles
    return area


def _geometry(raw: Any) -> BaseGeometry | None:
    if not isinstance(raw, dict):
        return None
    try:
        geometry = shape(raw)
    except (KeyError, TypeError, ValueError, AttributeError, ShapelyError):
        return None
    return None if geometry.is_empty else geometry


def _parse(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


# -- XML -------------------------------------------------------------------------------

# The order of each element's children in CAP 1.2 (a stored message may come back with its
# keys in another order: PostgreSQL's jsonb sorts them).
_ORDER = {
    "alert": ("identifier", "sender", "sent", "status", "msgType", "source", "scope",
              "restriction", "addresses", "code", "note", "references", "incidents", "info"),
    "info": ("language", "category", "event", "responseType", "urgency", "severity", "certainty",
             "audience", "eventCode", "effective", "onset", "expires", "senderName", "headline",
             "description", "instruction", "web", "contact", "parameter", "resource", "area"),
    "area": ("areaDesc", "polygon", "circle", "geocode", "altitude", "ceiling"),
    "parameter": ("valueName", "value"),
    "eventCode": ("valueName", "value"),
    "geocode": ("valueName", "value"),
}


def in_order(message: dict[str, Any], name: str = "alert") -> dict[str, Any]:
    """The message with every element's children in CAP's order."""
    order = _ORDER.get(name, ())
    out: dict[str, Any] = {}
    for key in sorted(message, key=lambda k: order.index(k) if k in order else len(order)):
        value = message[key]
        if isinstance(value, dict):
            value = in_order(value, key)
        elif isinstance(value, list):
            value = [in_order(v, key) if isinstance(v, dict) else v for v in value]
        out[key] = value
    return out


def to_xml(message: dict[str, Any]) -> str:
    """The CAP 1.2 XML document of a message."""
    out = ['<?xml version="1.0" encoding="UTF-8"?>\n']
    _element(out, "alert", in_order(message), f' xmlns="{CAP_NAMESPACE}"')
    return "".join(out)


def _element(out: list[str], name: str, value: Any, attributes: str = "") -> None:
    if isinstance(value, list):
        for item in value:
            _element(out, name, item)
    elif isinstance(value, dict):
        out.append(f"<{name}{attributes}>")
        for key, inner in value.items():
            _element(out, key, inner)
        out.append(f"</{name}>")
    else:
        out.append(f"<{name}>{escape(str(value))}</{name}>")


def atom_feed(*, feed_id: str, title: str, self_url: str, entries: list[tuple[dict[str, Any], str]],
              now: datetime) -> str:
    """An Atom feed of CAP messages: one entry per message, linking to its CAP XML (as
    Google Public Alerts and other CAP aggregators read them)."""
    updated = max((e[0]["sent"] for e in entries), default=cap_time(now))
    out = ['<?xml version="1.0" encoding="UTF-8"?>\n', f'<feed xmlns="{ATOM_NAMESPACE}">',
           f"<id>{escape(feed_id)}</id>", f"<title>{escape(title)}</title>",
           f"<updated>{_atom_time(updated)}</updated>",
           f'<link rel="self" href={quoteattr(self_url)}/>',
           "<author><name>Quartier</name></author>"]
    for message, url in entries:
        info = message["info"][0]
        out += [
            "<entry>", f"<id>{escape(message['identifier'])}</id>",
            f"<title>{escape(info['headline'])}</title>",
            f"<updated>{_atom_time(message['sent'])}</updated>",
            f"<author><name>{escape(info.get('senderName', message['sender']))}</name></author>",
            f'<link rel="alternate" type="application/cap+xml" href={quoteattr(url)}/>',
            f"<summary>{escape(info['description'])}</summary>",
            f'<category term={quoteattr(message["msgType"])}/>',
            "</entry>",
        ]
    out.append("</feed>")
    return "".join(out)


def _atom_time(cap: str) -> str:
    return cap[:-6] + "Z"  # Atom takes RFC 3339, where Z is the usual way to say UTC
