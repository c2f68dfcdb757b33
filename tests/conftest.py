"""Fixtures: one app per test, on each backend (SQLite file, PostgreSQL with PostGIS).

PostgreSQL tests use the server on 127.0.0.1:5432 (override with QUARTIER_TEST_PG).
They skip when it cannot be reached, except under CI=true, where that is a failure.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import orjson
import pytest
from starlette.testclient import TestClient as AnonymousClient

from quartier.app import build_app
from quartier.settings import Settings

PG_ADMIN_URL = os.environ.get("QUARTIER_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
IN_CI = os.environ.get("CI", "").lower() == "true"
# "archived": PostgreSQL with every Observation packed into the archive after each write,
# so that every test also reads, changes and deletes archived Observations.
BACKENDS = ["sqlite", "postgresql", "archived"]
_ARCHIVED_URLS: set[str] = set()
_TABLES = (
    "dashboard_views, packages, workorders, lighting_schedule_runs, lighting_schedules, "
    "lighting_groups, task_outcomes, task_deliveries, tasks, tasking_capabilities, actuators, "
    "login_failures, sessions, users, "
    "tenant_grants, audit_log, api_keys, basemap_layers, notification_cursor, notification_channels, "
    "alert_events, alerts, rule_states, rules, "
    "uplinks_seen, devices, device_profiles, lorawan_integrations, "
    "observations, observation_blocks, dead_letters, datastreams, historical_locations_locations, "
    "historical_locations, things_locations, things, locations, features, sensors, observed_properties"
)


def _pg_url(database: str) -> str:
    head, _, _ = PG_ADMIN_URL.rpartition("/")
    return f"{head}/{database}"


def skip_or_fail(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"CI=true, so this may not be skipped: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh database for this test session; dropped at the end."""
    yield from _fresh_database()


@pytest.fixture(scope="session")
def pg_archived_database() -> Iterator[str]:
    """A second fresh database, for the "archived" backend."""
    for url in _fresh_database():
        _ARCHIVED_URLS.add(url)
        yield url


def _fresh_database() -> Iterator[str]:
    name = f"quartier_test_{uuid.uuid4().hex[:10]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(PG_ADMIN_URL, timeout=5)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    try:
        asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
        skip_or_fail(f"PostgreSQL at {PG_ADMIN_URL} is not reachable: {exc}")
    yield _pg_url(name)
    asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def truncate_tables(url: str) -> None:
    async def run() -> None:
        conn = await asyncpg.connect(url)
        try:
            exists = await conn.fetchval("SELECT to_regclass('things') IS NOT NULL")
            if exists:
                await conn.execute(f"TRUNCATE {_TABLES} RESTART IDENTITY CASCADE")
                await conn.execute("DELETE FROM tenants WHERE name <> 'default'")
        finally:
            await conn.close()

    asyncio.run(run())


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def backend_settings(request: pytest.FixtureRequest, backend: str, data_dir: Path) -> Settings:
    """Settings for a fresh store on ``backend`` (the PostgreSQL test database emptied)."""
    if backend in ("postgresql", "archived"):
        url = request.getfixturevalue("pg_archived_database" if backend == "archived" else "pg_database")
        truncate_tables(url)
        # The archive job would race the tests; the "archived" backend archives itself.
        return Settings.validated({"database": url, "data_dir": data_dir, "archive_after_days": 0})
    return Settings.validated({"data_dir": data_dir})


class _ArchiveAfterWrites:
    """ASGI wrapper: after each write request, pack every Observation into the archive."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)
        if scope["type"] == "http" and scope["method"] in ("POST", "PATCH", "PUT", "DELETE"):
            await self.app.state.store.archive(datetime.max.replace(tzinfo=UTC), keep_newest_day=False)


def make_app(settings: Settings) -> Any:
    """The app for ``settings``; on the "archived" backend, one that archives after writes."""
    app = build_app(settings)
    return _ArchiveAfterWrites(app) if settings.database in _ARCHIVED_URLS else app


@pytest.fixture
def settings(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    return backend_settings(request, backend, tmp_path)


@pytest.fixture(scope="module", params=BACKENDS)
def module_settings(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """One fresh store per backend for a whole test module (for modules whose tests only read,
    or write nothing that another test looks at)."""
    return backend_settings(request, request.param, tmp_path_factory.mktemp("module"))


def sse_events(response: Any) -> Iterator[dict[str, Any]]:
    """The events of an SSE response, as {"id", "event", "data"}."""
    event: dict[str, Any] = {}
    for line in response.iter_lines():
        if not line:
            if "event" in event:
                yield event
            event = {}
        elif line.startswith("id: "):
            event["id"] = int(line[4:])
        elif line.startswith("event: "):
            event["event"] = line[7:]
        elif line.startswith("data: "):
            event["data"] = orjson.loads(line[6:])


def admin_key(app: Any, tenant: str = "default", role: str = "admin") -> str:
    """A new key of ``role`` for an app built with :func:`build_app`, made through a store
    of its own (for servers that run in another thread or process)."""
    from quartier.auth.keys import KeyBook, KeyRequest
    from quartier.auth.roles import Role
    from quartier.store import open_store

    async def run() -> str:
        store = open_store(app.state.settings)
        await store.open()
        try:
            tenant_id = await store.tenant_id(tenant)
            assert tenant_id is not None
            key, _ = await KeyBook(store).create(tenant_id, KeyRequest("tests", Role.parse(role)), "tests")
            return key
        finally:
            await store.close()

    return asyncio.run(run())


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """``app`` served by uvicorn on 127.0.0.1 (port chosen by the OS) in a background
    thread, as a real client reaches it; its base URL, e.g. ``http://127.0.0.1:40123``."""
    import threading
    import time

    import uvicorn

    config = uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="on", log_level="warning",
                            access_log=False, ws="none")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="quartier-uvicorn", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started:
            if not thread.is_alive():
                pytest.fail("uvicorn stopped before it started serving (see the log above)")
            if time.monotonic() > deadline:
                pytest.fail("uvicorn did not start within 20 s")
            time.sleep(0.02)
        yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        assert not thread.is_alive(), "uvicorn did not shut down within 20 s"


def issue_key(app: Any, portal: Any, role: str = "admin", tenant: str = "default",
              name: str = "tests", **wanted: Any) -> str:
    """A new API key of ``role`` in the running ``app`` (``portal``: its TestClient's)."""
    from quartier.auth.keys import KeyRequest
    from quartier.auth.roles import Role

    inner = getattr(app, "app", app)  # through _ArchiveAfterWrites

    async def make() -> str:
        store = inner.state.store
        tenant_id = await store.tenant_id(tenant)
        assert tenant_id is not None, f"no tenant {tenant}"
        key, _ = await inner.state.keys.create(tenant_id, KeyRequest(name, Role.parse(role), **wanted),
                                               "tests")
        return str(key)

    return str(portal.call(make))


class TestClient(AnonymousClient):
    """A TestClient that sends an admin key with every request, as the tests did before
    there were keys: one of the tenant the request's path names (``/t/{tenant}/…``, else
    the default tenant). ``role`` picks another role; a request that brings its own
    ``Authorization`` or ``X-API-Key`` header keeps it."""

    __test__ = False

    def __init__(self, app: Any, *args: Any, role: str = "admin", **kwargs: Any) -> None:
        super().__init__(app, *args, **kwargs)
        self.role = role
        self._keys: dict[str, str] = {}

    @property
    def key(self) -> str:
        """The key this client sends to the default tenant."""
        return self._key_of("default") or ""

    def _key_of(self, tenant: str) -> str | None:
        if tenant not in self._keys:
            try:
                self._keys[tenant] = issue_key(self.app, self.portal, self.role, tenant)
            except AssertionError:  # no such tenant (yet): the request goes without a key
                return None
        return self._keys[tenant]

    def request(self, method: str, url: Any, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        headers = {k.lower(): v for k, v in dict(kwargs.get("headers") or {}).items()}
        if "authorization" not in headers and "x-api-key" not in headers:
            path = urlsplit(str(url)).path
            tenant = path.split("/")[2] if path.startswith("/t/") and path.count("/") >= 2 else "default"
            key = self._key_of(tenant) if self.portal is not None else None
            if key is not None:
                kwargs["headers"] = {**dict(kwargs.get("headers") or {}), "Authorization": f"Bearer {key}"}
        return super().request(method, url, *args, **kwargs)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    app = make_app(settings)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def create_tenant(settings: Settings, name: str) -> None:
    """Add a tenant to the settings' store, as ``quartier tenant create`` does."""
    from quartier.store import open_store

    async def run() -> None:
        store = open_store(settings)
        await store.open()
        try:
            await store.create_tenant(name)
        finally:
            await store.close()

    asyncio.run(run())


class Api:
    """Short helpers for SensorThings calls in tests."""

    def __init__(self, client: TestClient, root: str = "/v1.1") -> None:
        self.client = client
        self.root = root

    def url(self, path: str) -> str:
        return f"{self.root}/{path}"

    def post(self, path: str, body: Any) -> Any:
        return self.client.post(self.url(path), json=body)

    def create(self, path: str, body: Any) -> int:
        response = self.post(path, body)
        assert response.status_code == 201, response.text
        location = response.headers["location"]
        return int(location[location.index("(") + 1 : location.index(")")])

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get(self.url(path), params=params)

    def ok(self, path: str, **params: Any) -> Any:
        response = self.get(path, **params)
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture
def api(client: TestClient) -> Api:
    return Api(client)


# -- sample entities ------------------------------------------------------------------

POINT = {"type": "Point", "coordinates": [9.18, 48.78]}


def location_body(name: str = "Brücke Mühlbach", point: Any = None) -> dict[str, Any]:
    return {
        "name": name,
        "description": "gauge at the bridge",
        "encodingType": "application/geo+json",
        "location": point or POINT,
    }


def sensor_body(name: str = "Radar gauge") -> dict[str, Any]:
    return {
        "name": name,
        "description": "radar water level sensor",
        "encodingType": "application/pdf",
        "metadata": "https://example.org/radar.pdf",
    }


def observed_property_body(name: str = "Water level") -> dict[str, Any]:
    return {
        "name": name,
        "definition": "https://example.org/water-level",
        "description": "height of the water surface above gauge zero",
    }


def datastream_body(name: str = "Level", **links: Any) -> dict[str, Any]:
    body = {
        "name": name,
        "description": "water level every 15 minutes",
        "observationType": "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement",
        "unitOfMeasurement": {
            "name": "centimetre", "symbol": "cm",
            "definition": "http://unitsofmeasure.org/ucum.html#para-30",
        },
    }
    body.update(links)
    return body


def thing_body(name: str = "Pegel Mühlbach", with_location: bool = True) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": name,
        "description": "water level gauge",
        "properties": {"district": "Nord"},
    }
    if with_location:
        body["Locations"] = [location_body()]
    return body


def full_thing_body(name: str = "Pegel Mühlbach") -> dict[str, Any]:
    """A Thing with a Location and one Datastream with a new Sensor and ObservedProperty."""
    body = thing_body(name)
    body["Datastreams"] = [
        datastream_body(Sensor=sensor_body(), ObservedProperty=observed_property_body())
    ]
    return body


# -- Tasking (Part 2): a lamp's TaskingCapability with its Actuator --------------------------

LAMP_PARAMETERS: dict[str, Any] = {
    "type": "DataRecord",
    "field": [
        {"name": "switch", "type": "Category", "optional": True,
         "constraint": {"type": "AllowedTokens", "value": ["on", "off"]}},
        {"name": "dim", "type": "Quantity", "optional": True, "uom": {"code": "%"},
         "constraint": {"type": "AllowedValues", "interval": [[0, 100]]}},
        {"name": "steps", "type": "Count", "optional": True,
         "constraint": {"type": "AllowedValues", "value": [1, 2, 4]}},
        {"name": "note", "type": "Text", "optional": True,
         "constraint": {"type": "AllowedTokens", "pattern": "[a-z]+"}},
        {"name": "test", "type": "Boolean", "optional": True},
    ],
}


def actuator_body(name: str = "Luminaire driver") -> dict[str, Any]:
    return {"name": name, "description": "DALI driver of the luminaire",
            "encodingType": "application/pdf", "metadata": "https://example.org/driver.pdf"}


def capability_body(thing_id: int | None = None, **properties: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Switch and dim", "description": "switches the lamp and sets its level",
        "taskingParameters": LAMP_PARAMETERS, "Actuator": actuator_body(),
    }
    if thing_id is not None:
        body["Thing"] = {"@iot.id": thing_id}
    if properties:
        body["properties"] = properties
    return body
