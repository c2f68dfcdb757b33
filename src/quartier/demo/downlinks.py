"""The demo's network server for downlinks: where Quartier sends the Tasks for the
simulated lamps, as it would to The Things Stack.

It listens on a local port of its own and takes The Things Stack's downlink push
(``POST /api/v3/as/applications/{application}/webhooks/{webhook}/devices/{device}/down/push``
with the API key it was given), decodes each payload with the luminaire encoder and hands
the command to the lamp, which acts on it at the simulation's current instant and answers
in its next uplink. The town's The Things Stack integration gets these settings as its
``downlink``, so the Tasks take the same road as for real lamps.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import logging
import secrets
import socket
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from quartier.demo.devices import Lamp
from quartier.tasking import streetlight

log = logging.getLogger("quartier.demo")

APPLICATION = "stadt"
WEBHOOK = "quartier"


class _Server(uvicorn.Server):
    """A server that leaves the process's signals to the program that runs it."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class DownlinkReceiver:
    """Takes downlinks for ``lamps``; ``now()`` is the simulated instant commands act at."""

    def __init__(self, lamps: list[Lamp], now: Callable[[], float], host: str = "127.0.0.1") -> None:
        self.lamps = {f"eui-{lamp.dev_eui.lower()}": lamp for lamp in lamps if lamp.dev_eui}
        self.now = now
        self.host = host
        self.key = secrets.token_urlsafe(24)
        self.port = 0
        self.counts: Counter[str] = Counter()  # "taken", "refused"
        self._server: _Server | None = None
        self._serving: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def settings(self) -> dict[str, Any]:
        """The ``downlink`` of the town's The Things Stack integration."""
        return {"url": self.url, "application": APPLICATION, "webhook": WEBHOOK,
                "apiKey": self.key, "deviceIds": "eui"}

    async def start(self) -> None:
        app = Starlette(routes=[Route(
            "/api/v3/as/applications/{application}/webhooks/{webhook}/devices/{device}/down/push",
            self._push, methods=["POST"])])
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, 0))
        self.port = sock.getsockname()[1]
        self._server = _Server(uvicorn.Config(app, log_level="warning", access_log=False,
                                                     lifespan="off"))
        self._serving = asyncio.create_task(self._server.serve(sockets=[sock]))
        while not self._server.started:
            if self._serving.done():
                await self._serving
                raise RuntimeError("the demo's downlink receiver did not start")
            await asyncio.sleep(0.02)

    async def close(self) -> None:
        if self._server is not None and self._serving is not None:
            self._server.should_exit = True
            await self._serving
            self._server = self._serving = None

    async def _push(self, request: Request) -> JSONResponse:
        params = request.path_params
        if request.headers.get("authorization") != f"Bearer {self.key}":
            return self._refuse(401, "wrong API key")
        if (params["application"], params["webhook"]) != (APPLICATION, WEBHOOK):
            return self._refuse(404, "no such application or webhook")
        lamp = self.lamps.get(params["device"])
        if lamp is None:
            return self._refuse(404, f"no lamp {params['device']}")
        try:
            body = orjson.loads(await request.body())
            commands = [streetlight.decode(base64.b64decode(d["frm_payload"], validate=True))
                        for d in body["downlinks"] if d.get("f_port") == streetlight.F_PORT]
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, binascii.Error) as exc:
            return self._refuse(400, f"not a downlink push: {exc}")
        for command in commands:
            lamp.command(self.now(), command)
        self.counts["taken"] += len(commands)
        return JSONResponse({})

    def _refuse(self, status: int, message: str) -> JSONResponse:
        self.counts["refused"] += 1
        log.warning("downlink refused: %s", message)
        return JSONResponse({"code": status, "message": message}, status_code=status)
