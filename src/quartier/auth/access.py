"""Which role each request needs: one table of rules, the first that matches decides.

Paths are matched without the tenant prefix (``/t/{tenant}``), so the rules hold for
every tenant alike. Reads of public data need no principal; every write needs one with
the role its rule names. The area of a path (``sensorthings``, ``rules``, ``alerts``,
...) is what a key's scopes name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from quartier.auth.roles import Role

_READ = frozenset({"GET", "HEAD"})
_WRITE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_ANY = _READ | _WRITE


@dataclass(frozen=True)
class Rule:
    methods: frozenset[str]
    pattern: re.Pattern[str]
    need: Role | None  # None: anyone, also without credentials
    # The route checks credentials of its own (a LoRaWAN integration's secret), so the
    # gate leaves its Authorization header alone.
    own_credentials: bool = False


def _rule(methods: frozenset[str], pattern: str, need: Role | None, own: bool = False) -> Rule:
    return Rule(methods, re.compile(pattern), need, own)


RULES: tuple[Rule, ...] = (
    _rule(_WRITE, r"/api/lorawan/[^/]+/uplink", None, own=True),
    # A login checks the password itself; a logout needs no more than the session it ends.
    _rule(frozenset({"POST"}), r"/api/session", None, own=True),
    _rule(frozenset({"DELETE"}), r"/api/session", None),
    _rule(_ANY, r"/api/(keys|audit|users)(/.*)?", Role.ADMIN),
    _rule(_WRITE, r"/api/visibility/.*", Role.ADMIN),
    _rule(_WRITE, r"/api/grants(/.*)?", Role.ADMIN),  # sharing is a permission change
    # Deleting data on a schedule is a decision of the tenant's administrators.
    _rule(_WRITE, r"/api/(datastreams|things|observed-properties)/\d+/retention", Role.ADMIN),
    _rule(_WRITE, r"/api/fleet/(retention|vehicles/\d+/position-visibility)", Role.ADMIN),
    # Installing a package changes profiles, rules and settings at once; choosing the
    # dashboard's views is a setting of the tenant. An export shows rules and settings.
    _rule(_WRITE, r"/api/(packages|dashboard/views)(/.*)?", Role.ADMIN),
    _rule(_READ, r"/api/packages/[^/]+/export", Role.EDITOR),
    _rule(_WRITE, r"/api/alerts/\d+/(acknowledge|resolve|comments)", Role.OPERATOR),
    # Operators switch and dim the lights: a command, or a Task of a TaskingCapability.
    _rule(frozenset({"POST"}), r"/api/lighting/commands", Role.OPERATOR),
    _rule(frozenset({"POST"}), r"/v1\.1/(Tasks|TaskingCapabilities\(\d+\)/Tasks)", Role.OPERATOR),
    # Operators take on, progress and close maintenance work orders, and open them by hand.
    _rule(frozenset({"POST"}), r"/api/workorders", Role.OPERATOR),
    _rule(frozenset({"PATCH"}), r"/api/workorders/\d+", Role.OPERATOR),
    # Settings with secrets or addresses in them, messages as they came in, and work orders
    # (names of people). Rules, grants and retention name internal Datastreams and Things.
    _rule(_READ, r"/api/(channels|lorawan|devices|device-profiles|dead-letters|visibility|workorders"
          r"|rules|grants)(/.*)?", Role.VIEWER),
    _rule(_READ, r"/api/(datastreams|things|observed-properties)/\d+/retention", Role.VIEWER),
    _rule(_READ, r".*", None),
    _rule(_WRITE, r".*", Role.EDITOR),
)

_TENANT_PREFIX = re.compile(r"/t/([^/]+)(/.*|)")
_VERSION = re.compile(r"/v1\.[01](/.*|)")
# A POST to a path ending in one of these does what it says, rather than create.
_VERBS = {"acknowledge": "acknowledge", "resolve": "resolve", "comments": "comment",
          "retry": "retry", "secret": "new-secret", "uplink": "uplink"}
_METHOD_VERBS = {"POST": "create", "PUT": "replace", "PATCH": "update", "DELETE": "delete"}


def split_tenant(path: str) -> tuple[str, str]:
    """(tenant name, path within the tenant) of a request path."""
    found = _TENANT_PREFIX.fullmatch(path)
    if found is None:
        return "default", path
    return found.group(1), found.group(2) or "/"


def rule_for(method: str, path: str) -> Rule:
    """The first rule for ``method`` that matches ``path`` (without the tenant prefix)."""
    for rule in RULES:
        if method in rule.methods and rule.pattern.fullmatch(path):
            return rule
    return RULES[-1]  # an unknown method: treated as a write


def area(path: str) -> str:
    """The API area of a path (without the tenant prefix), as a key's scopes name it."""
    if _VERSION.fullmatch(path):
        return "sensorthings"
    parts = path.strip("/").split("/")
    if parts[0] == "api" and len(parts) > 1:
        return parts[1]
    return "dashboard"


def action(method: str, path: str) -> str:
    """What a write does, for the audit log: the area and a verb, e.g. alerts.acknowledge."""
    last = path.rstrip("/").rsplit("/", 1)[-1]
    verb = _VERBS.get(last) if method == "POST" else None
    return f"{area(path)}.{verb or _METHOD_VERBS.get(method, method.lower())}"


AREAS = ("sensorthings", "rules", "alerts", "channels", "lorawan", "devices", "device-profiles",
         "dead-letters", "imports", "basemap", "keys", "audit", "visibility", "lighting",
         "datastreams", "things", "observed-properties", "grants", "users", "session", "packages",
         "dashboard")
