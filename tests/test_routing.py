"""The order of the app's routes: the busiest (the SensorThings API, the uplink webhooks)
are tried first, and that changes no match, since no other route matches their paths.
And the root that links start with, kept per request origin."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.routing import BaseRoute, Match, Route

from quartier.api.params import public_root
from quartier.app import build_app
from quartier.settings import Settings

# A value each kind of path parameter takes.
_SAMPLES = {"version": "v1.1", "path": "Things(1)/Datastreams", "id": "7", "int": "7"}
_PARAMETER = re.compile(r"{(\w+)(?::(\w+))?}")


def _routes(tmp_path: Path) -> list[BaseRoute]:
    return list(build_app(Settings(data_dir=tmp_path)).router.routes)


def _sample_path(route: Route) -> str:
    return _PARAMETER.sub(lambda m: _SAMPLES.get(m[2] or "", f"x{m[1]}"), route.path)


def _scope(path: str, method: str) -> dict[str, Any]:
    return {"type": "http", "path": path, "method": method, "root_path": "", "headers": []}


def _busy(route: BaseRoute) -> bool:
    return isinstance(route, Route) and (route.path.endswith(("{version:version}",
                                                              "{version:version}/",
                                                              "{version:version}/{path:path}",
                                                              "/api/lorawan/{name}/uplink")))


def test_the_busiest_routes_come_first(tmp_path: Path) -> None:
    routes = _routes(tmp_path)
    busy = [i for i, route in enumerate(routes) if _busy(route)]
    assert busy == list(range(8))  # both prefixes: three SensorThings routes, one webhook


def test_no_other_route_matches_a_path_of_the_busiest(tmp_path: Path) -> None:
    routes = _routes(tmp_path)
    busy = [r for r in routes if _busy(r)]
    others = [r for r in routes if not _busy(r) and isinstance(r, Route)]
    assert len(others) > 100
    for route in others:
        for method in route.methods or ["GET"]:
            scope = _scope(_sample_path(route), method)
            assert route.matches(scope)[0] is Match.FULL, route.path  # the sample is right
            for early in busy:
                assert early.matches(scope)[0] is Match.NONE, (route.path, early.path)
    for route in busy:
        assert isinstance(route, Route)
        scope = _scope(_sample_path(route), "POST" if "uplink" in route.path else "GET")
        assert route.matches(scope)[0] is Match.FULL, route.path
        assert all(r.matches(scope)[0] is Match.NONE for r in others), route.path


def test_the_public_root_is_what_starlette_makes_of_the_request(tmp_path: Path) -> None:
    """public_root keeps the root per scheme, server, Host and root path; each is the
    base URL Starlette builds, and a configured --base-url wins."""
    settings = Settings(data_dir=tmp_path)
    cases = [
        ("http", ("127.0.0.1", 8080), b"127.0.0.1:8080", ""),
        ("https", ("10.0.0.2", 443), None, ""),
        ("http", ("10.0.0.2", 80), None, "/quartier"),
        ("https", ("::1", 8443), None, ""),
        ("http", ["127.0.0.1", 8000], None, ""),  # as some servers give it: a list
        ("http", ("127.0.0.1", 8080), b"daten.lindbrueck.de", "/stadt"),
        ("http", ("127.0.0.1", 8080), b"bad host:x", ""),
    ]
    for scheme, server, host, root_path in cases * 2:  # the second round from the cache
        scope = {"type": "http", "scheme": scheme, "server": server, "path": "/v1.1/Things",
                 "root_path": root_path, "query_string": b"", "method": "GET",
                 "headers": [(b"host", host)] if host is not None else []}
        assert public_root(settings, Request(scope)) == str(Request(scope).base_url).rstrip("/")
    configured = Settings(data_dir=tmp_path, base_url="https://daten.example.org/")
    assert public_root(configured, Request(_scope("/v1.1/Things", "GET"))) == "https://daten.example.org"
