"""The dashboard: one HTML page and its static files (scripts, styles, and the front-end
libraries that ``scripts/setup.sh`` copies from npm into ``static/vendor``).

The page (and the login page, ``/login``) is the same for every tenant; its scripts read
the tenant from the path (``/`` or ``/t/{tenant}/``) and talk to that tenant's APIs.
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from quartier.api.params import request_tenant
from quartier.store import Store

HERE = Path(__file__).parent
STATIC = HERE / "static"


class Dashboard:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.page = (HERE / "templates" / "index.html").read_text("utf-8")
        self.login_page = (HERE / "templates" / "login.html").read_text("utf-8")

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/", self.index, methods=["GET", "HEAD"]),
            Route("/t/{tenant}/", self.index, methods=["GET", "HEAD"]),
            Route("/t/{tenant}", self.to_slash, methods=["GET", "HEAD"]),
            Route("/login", self.login, methods=["GET", "HEAD"]),
            Route("/t/{tenant}/login", self.login, methods=["GET", "HEAD"]),
            Mount("/static", StaticFiles(directory=STATIC, check_dir=False), name="static"),
        ]

    async def index(self, request: Request) -> Response:
        await request_tenant(self.store, request)  # 404 for a tenant that does not exist
        return HTMLResponse(self.page, headers={"Cache-Control": "no-cache"})

    async def login(self, request: Request) -> Response:
        """The login form; it posts to the tenant's ``/api/session``."""
        await request_tenant(self.store, request)
        return HTMLResponse(self.login_page, headers={"Cache-Control": "no-cache"})

    async def to_slash(self, request: Request) -> Response:
        return RedirectResponse(f"/t/{request.path_params['tenant']}/", 308)
