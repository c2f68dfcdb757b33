"""The two ways to run the town: ``quartier demo`` (a Quartier of its own, in this process)
and ``quartier simulate`` (against any running Quartier)."""

from __future__ import annotations

import asyncio
import contextlib
import math
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx2 as httpx

from quartier.demo.build import build_town
from quartier.demo.clock import DAY
from quartier.demo.provision import ProvisionError
from quartier.demo.simulation import AfterStep, Say, Simulation
from quartier.demo.town import Town
from quartier.settings import Settings


async def run_demo(settings: Settings, town: Town, anchor: float, days: float, speed: float,
                   say: Say) -> None:
    """Serve Quartier and live the town in it until the server is stopped (Ctrl-C)."""
    import uvicorn

    from quartier.app import build_app

    app = build_app(settings)
    server = uvicorn.Server(uvicorn.Config(app, host=settings.host,
                                           port=settings.port, log_level=settings.log_level,
                                           access_log=False, timeout_graceful_shutdown=5))
    serving = asyncio.create_task(server.serve())
    while not server.started:
        if serving.done():
            await serving
            raise ProvisionError(f"Quartier could not start on {settings.host}:{settings.port}")
        await asyncio.sleep(0.05)
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host
    base = f"http://{host}:{settings.port}"
    sim = build_town(town, anchor, mqtt=bool(settings.mqtt))
    key = await demo_key(app)
    password = await demo_login(app)
    async with Simulation(sim, base, mqtt_url=settings.mqtt or None, say=say,
                          mqtt_prefix=settings.mqtt_prefix, api_key=key,
                          after_step=light_switch(app)) as simulation:
        follow_the_simulated_clock(app, simulation)
        provisioned = await simulation.setup()
        if days and provisioned.created:
            say(f"backfilling {days:g} days of history ...")
            await simulation.backfill(days)
        elif days:
            say("the town was there already (--keep): no backfill, going live")
        say(welcome(town, base, speed, key, password))
        living = asyncio.create_task(simulation.live(speed, report_every=10.0))
        await asyncio.wait([serving, living], return_when=asyncio.FIRST_COMPLETED)
        living.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await living
        if not serving.done():
            server.should_exit = True
            await serving


async def run_simulation(target: str, tenant: str, town: Town, anchor: float, scale: int,
                         days: float, speed: float | None, duration: float | None,
                         mqtt_url: str | None, mqtt_prefix: str, say: Say, api_key: str) -> None:
    sim = build_town(town, anchor, scale, mqtt=bool(mqtt_url))
    try:
        async with Simulation(sim, target, tenant, mqtt_url, say, mqtt_prefix,
                              api_key) as simulation:
            await simulation.setup()
            if days:
                await simulation.backfill(days)
            until = None if duration is None else anchor + duration
            await simulation.live(speed, until, report_every=10.0)
            say(simulation.status())
    except httpx.ConnectError as exc:
        raise ProvisionError(f"cannot reach Quartier at {target}: {exc}") from None


def follow_the_simulated_clock(app: Any, simulation: Simulation) -> None:
    """The lighting schedules and the rules of the demo run on the town's clock, which
    may run ahead of the wall clock (or, in tests, on another day)."""
    app.state.lighting.clock = lambda: datetime.fromtimestamp(simulation.clock, UTC)
    app.state.rules.clock = lambda: simulation.clock


def light_switch(app: Any, every: float = 60.0) -> AfterStep:
    """What sends the lighting schedules' events due by a simulated instant: those since
    the last time it looked (at most a day back), at most once per ``every`` simulated
    seconds; a fast simulation's steps may be longer than the quarter of an hour the
    schedules look back by themselves."""
    last = [-math.inf]

    async def switch(t: float) -> None:
        if t - last[0] >= every:
            since = datetime.fromtimestamp(max(last[0], t - DAY), UTC)
            last[0] = t
            await app.state.lighting.run_schedules(datetime.fromtimestamp(t, UTC), since)

    return switch


async def demo_key(app: Any) -> str:
    """A new admin key of the default tenant for the demo's own devices and its visitor
    (a fresh one each start; only its hash is kept)."""
    from quartier.auth.keys import KeyRequest
    from quartier.auth.roles import Role

    tenant_id = await app.state.store.tenant_id("default")
    key, _ = await app.state.keys.create(tenant_id, KeyRequest("demo", Role.ADMIN), "demo")
    return str(key)


DEMO_USER = "demo"


async def demo_login(app: Any) -> str:
    """The dashboard login of the demo's visitor: the admin account ``demo`` of the default
    tenant, with a new password each start (returned; only its hash is kept)."""
    import secrets

    from quartier.auth.roles import Role
    from quartier.auth.users import UserChange

    tenant_id = await app.state.store.tenant_id("default")
    password = secrets.token_urlsafe(12)
    users = app.state.users
    if await users.find(tenant_id, DEMO_USER) is None:
        await users.create(tenant_id, DEMO_USER, Role.ADMIN, password, "demo")
    else:  # --keep: the account is there from an earlier run
        await users.change(tenant_id, DEMO_USER, UserChange(password=password, disabled=False))
    return password


def welcome(town: Town, base: str, speed: float, key: str = "", password: str = "") -> str:
    def q(text: str) -> str:
        return quote(text, safe="/()$=,;'&")

    pace = "in real time" if speed == 1 else f"{speed:g} times as fast as real time"
    latest = "$expand=Datastreams($expand=Observations($top=1;$orderby=phenomenonTime desc))"
    lines: list[tuple[str, Any]] = [
        ("dashboard", f"{base}/"),
        ("SensorThings API", f"{base}/v1.1"),
        ("water gauges, latest", f"{base}/v1.1/Things?" + q(f"$filter=properties/kind eq 'gauge'&{latest}")),
        ("street lights that are off",
         f"{base}/v1.1/Datastreams?" + q("$filter=ObservedProperty/name eq 'Power state'&"
                                         "$expand=Thing($select=name),Observations($top=1;"
                                         "$orderby=phenomenonTime desc;$filter=result eq 'off')")),
        ("vehicles on a map (GeoJSON)",
         f"{base}/v1.1/Things?" + q("$filter=properties/kind eq 'vehicle'&$expand=Locations&"
                                    "$resultFormat=GeoJSON")),
        ("LoRaWAN devices", f"{base}/api/devices"),
        ("alerts", f"{base}/api/alerts"),
        ("dead letters", f"{base}/api/dead-letters"),
    ]
    width = max(len(label) for label, _ in lines)
    body = "\n".join(f"  {label:<{width}}  {url}" for label, url in lines)
    access = ""
    if key:
        access = (f"The demo's admin key (shown only now): {key}\n"
                  f"  the dashboard with it (to acknowledge alerts, administer): {base}/?key={key}\n"
                  f"  the API with it: curl -H 'Authorization: Bearer {key}' {base}/api/keys\n")
    if password:
        access += (f"Log in to the dashboard at {base}/login as {DEMO_USER!r} with the password "
                   f"{password} (shown only now)\n")
    return (f"\n{town.name} lives {pace}. Open:\n{body}\n{access}"
            "Stop with Ctrl-C.\n")
