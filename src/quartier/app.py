"""``build_app(settings)``: the ASGI application. Nothing happens at import time."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from quartier import guard
from quartier.api import convertors
from quartier.api.audit import AuditApi
from quartier.api.basemap import BaseMapApi
from quartier.api.cap import CapApi
from quartier.api.channels import ChannelApi
from quartier.api.dead_letters import DeadLetterApi
from quartier.api.environment import EnvironmentApi
from quartier.api.fleet import FleetApi
from quartier.api.grants import GrantApi
from quartier.api.imports import ImportApi
from quartier.api.keys import KeyApi
from quartier.api.lighting import LightingApi
from quartier.api.lighting_control import LightingControlApi
from quartier.api.live import DashboardApi
from quartier.api.lorawan import LorawanApi
from quartier.api.openapi import OpenApiDocument
from quartier.api.packages import PackageApi
from quartier.api.parking import ParkingApi
from quartier.api.responses import error_response, json_response
from quartier.api.retention import RetentionApi
from quartier.api.rules import RulesApi
from quartier.api.sensorthings.handlers import SensorThingsApi
from quartier.api.session import SessionApi
from quartier.api.users import UserApi
from quartier.api.visibility import VisibilityApi
from quartier.api.workorders import WorkOrderApi
from quartier.auth.gate import AccessGate
from quartier.auth.keys import KeyBook
from quartier.auth.login import Login
from quartier.auth.oidc import TokenCheck
from quartier.auth.sessions import SessionBook
from quartier.auth.users import UserBook
from quartier.background import cancel_all
from quartier.errors import QuartierError
from quartier.guard.ratelimit import PrincipalLimits
from quartier.live import LiveFeed
from quartier.lorawan.ingest import UplinkIngest
from quartier.lorawan.mqtt import LorawanMqtt
from quartier.notify.dispatcher import Dispatcher
from quartier.rules.engine import RuleEngine
from quartier.settings import Settings
from quartier.store import Store, open_store
from quartier.tasking.dispatcher import TaskDispatcher
from quartier.web import Dashboard

log = logging.getLogger(__name__)

_ALL_METHODS = ["GET", "HEAD", "POST", "PATCH", "PUT", "DELETE"]
ARCHIVE_EVERY = 600.0  # seconds between runs of the archive job
PRUNE_EVERY = 6 * 3600.0  # seconds between prunings of the stored-uplink marks
SWITCH_EVERY = 60.0  # seconds between looks at the lighting schedules


async def _archive_periodically(store: Store, days: int) -> None:
    """Pack Observations older than ``days`` into the archive, now and every few minutes."""
    from datetime import UTC, datetime, timedelta

    while True:
        try:
            moved = await store.archive(datetime.now(UTC) - timedelta(days=days))
            if moved:
                log.info("archived %d Observations older than %d days", moved, days)
        except asyncio.CancelledError:
            raise
        except Exception:  # the next run tries again; serving goes on meanwhile
            log.exception("the archive job failed")
        await asyncio.sleep(ARCHIVE_EVERY)


async def _retain_periodically(store: Store, every: int) -> None:
    """Delete what has outlived its Datastream's retention, now and every ``every`` s."""
    from quartier.retention import run_retention

    while True:
        try:
            done = await run_retention(store)
            if done.observations or done.historical_locations:
                log.info("retention: deleted %d Observations and %d HistoricalLocations",
                         done.observations, done.historical_locations)
        except asyncio.CancelledError:
            raise
        except Exception:  # the next run tries again; serving goes on meanwhile
            log.exception("the retention job failed")
        await asyncio.sleep(every)


async def _switch_periodically(control: LightingControlApi) -> None:
    """Send the lighting schedules' events as they come due, every minute."""
    while True:
        try:
            await control.run_schedules()
        except asyncio.CancelledError:
            raise
        except Exception:  # the next minute tries again (an event stays due for a while)
            log.exception("the lighting schedules failed")
        await asyncio.sleep(SWITCH_EVERY)


async def _prune_periodically(uplinks: UplinkIngest) -> None:
    """Forget old marks of stored uplinks, now and every few hours."""
    while True:
        try:
            await uplinks.prune()
        except asyncio.CancelledError:
            raise
        except Exception:  # the next run tries again
            log.exception("could not prune the marks of stored uplinks")
        await asyncio.sleep(PRUNE_EVERY)


def build_app(settings: Settings, store: Store | None = None) -> Starlette:
    """The Quartier web application; the store opens when the app starts."""
    convertors.register()
    store = store if store is not None else open_store(settings)
    api = SensorThingsApi(store, settings)
    uplinks = UplinkIngest(store)
    feed = LiveFeed(store, workers=settings.workers)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await store.open()
        log.info("Quartier serves data from %s", store.description)
        # What exists now lives as long as the process: keep it out of the collector's
        # way, and collect less often, since bulk requests make many short-lived objects.
        gc.freeze()
        gc.set_threshold(50_000, 50, 100)
        job = None
        if store.dialect.archive and settings.archive_after_days > 0:
            job = asyncio.create_task(_archive_periodically(store, settings.archive_after_days))
        mqtt = None
        if settings.mqtt:
            from quartier.mqtt.service import MqttService

            mqtt = MqttService(api, settings)
            await mqtt.start()
            app.state.mqtt = mqtt
        lorawan_mqtt = LorawanMqtt(uplinks, settings)
        await lorawan_mqtt.start()
        notifications = Dispatcher(store, settings)
        engine = RuleEngine(store, alerted=notifications.wake)
        await engine.start()
        app.state.rules = rules.engine = engine
        pruning = asyncio.create_task(_prune_periodically(uplinks))
        switching = asyncio.create_task(_switch_periodically(lighting_control))
        app.state.lighting = lighting_control
        retaining = ([asyncio.create_task(_retain_periodically(store, settings.retention_every))]
                     if settings.retention_every else [])
        notifications.start()
        app.state.notifications = notifications
        tasks = TaskDispatcher(store, settings)
        tasks.start()
        app.state.tasks = tasks
        feed.start()
        try:
            yield
        finally:
            await feed.stop()
            await cancel_all([pruning, switching, *retaining])
            await engine.stop()
            await notifications.stop()
            await tasks.stop()
            await lorawan_mqtt.stop()
            if mqtt is not None:
                await mqtt.stop()
            if job is not None:
                await cancel_all([job])
            await store.close()

    letters = DeadLetterApi(api, uplinks)
    lorawan = LorawanApi(store, settings, uplinks)
    routes: list[BaseRoute] = []
    imports = ImportApi(store, settings)
    rules = RulesApi(store, settings)
    packages = PackageApi(store, settings, rules)
    channel_api, cap_api = ChannelApi(store, settings), CapApi(store, settings)
    basemap = BaseMapApi(store, settings)
    retention = RetentionApi(store, settings)
    workorders = WorkOrderApi(store, settings)
    keys = KeyBook(store)
    users, sessions = UserBook(store), SessionBook(store, settings)
    access_apis = (KeyApi(store, settings, keys), AuditApi(store), VisibilityApi(store, settings),
                   UserApi(store, settings, users),
                   SessionApi(store, settings, sessions, Login(users, sessions)))
    grants = GrantApi(store, settings)
    dashboard = DashboardApi(store, settings, feed)
    description = OpenApiDocument(store)
    lighting_control = LightingControlApi(api)
    views: list[EnvironmentApi | ParkingApi | LightingApi | FleetApi | LightingControlApi] = [
        EnvironmentApi(store), ParkingApi(store), LightingApi(store), FleetApi(store, settings),
        lighting_control]
    routes += Dashboard(store).routes()
    # Starlette tries the routes in order, about half a microsecond each: the SensorThings
    # API and the uplink webhooks, which take nearly every request, come first. No other
    # route matches their paths (tests/test_routing.py), so this changes no other match.
    busy: list[BaseRoute] = []
    for prefix in ("", "/t/{tenant}"):
        busy += [
            *lorawan.webhook_routes(prefix),
            Route(prefix + "/{version:version}", api.root, methods=["GET", "HEAD"]),
            Route(prefix + "/{version:version}/", api.root, methods=["GET", "HEAD"]),
            Route(prefix + "/{version:version}/{path:path}", api.resource, methods=_ALL_METHODS),
        ]
        routes += lorawan.routes(prefix) + letters.routes(prefix)
        routes += rules.routes(prefix) + packages.routes(prefix)
        routes += channel_api.routes(prefix) + cap_api.routes(prefix)
        routes += basemap.routes(prefix) + description.routes(prefix) + grants.routes(prefix)
        routes += retention.routes(prefix)
        routes += workorders.routes(prefix)
        routes += [route for part in access_apis for route in part.routes(prefix)]
        routes += dashboard.routes(prefix)
        routes += [route for view in views for route in view.routes(prefix)]
        routes.append(Route(prefix + "/api/imports/csv", imports.csv, methods=["POST"]))
    app = Starlette(
        routes=busy + routes,
        lifespan=lifespan,
        middleware=[*guard.middleware(settings),
                    Middleware(AccessGate, store=store, keys=keys, sessions=sessions,
                               tokens=TokenCheck.from_settings(store, settings)),
                    Middleware(PrincipalLimits, settings=settings)],
        exception_handlers={
            QuartierError: _quartier_error,
            HTTPException: _http_error,
            Exception: _unexpected_error,
        },
    )
    app.state.store = store
    app.state.keys = keys
    app.state.users = users
    app.state.sessions = sessions
    app.state.settings = settings
    return app


async def _quartier_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, QuartierError)
    return error_response(exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    message = exc.detail if exc.status_code != 404 else f"no resource at {request.url.path}"
    return json_response(
        {"code": code, "message": message}, exc.status_code, dict(exc.headers or {})
    )


async def _unexpected_error(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return json_response(
        {"code": "internal_error", "message": "an internal error occurred; see the server log"},
        500,
    )


def app_from_env() -> Starlette:
    """Factory for worker processes: the app from ``QUARTIER_*`` variables."""
    return build_app(Settings.from_env())
