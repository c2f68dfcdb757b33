"""HTTP API of use-case packages and the dashboard's views. Every path also works under
``/t/{tenant}``.

    GET  /api/packages                  the packages installed in the tenant (name,
                                        version) and the names of the built-in ones
    POST /api/packages                  install a package file (admin): all of it or
                                        nothing; 201 with what was created, updated, skipped
    GET  /api/packages/{name}/export    the package as the tenant has it now (editor)
    GET  /api/dashboard/views           the views the navigation shows (null: all)
    PUT  /api/dashboard/views           {"views": ["lighting", …]} or {"views": null} (admin)
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from quartier.api.body import read_json
from quartier.api.params import request_tenant
from quartier.api.responses import json_response
from quartier.api.rules import RulesApi
from quartier.settings import Settings
from quartier.store import Store
from quartier.usecases.packages import views
from quartier.usecases.packages.builtin import BUILT_IN
from quartier.usecases.packages.export import export, installed
from quartier.usecases.packages.format import parse_package
from quartier.usecases.packages.install import install


class PackageApi:
    def __init__(self, store: Store, settings: Settings, rules: RulesApi) -> None:
        self.store = store
        self.settings = settings
        self.rules = rules  # told when an import changed rules

    def routes(self, prefix: str) -> list[Route]:
        return [
            Route(prefix + "/api/packages", self.listing, methods=["GET"]),
            Route(prefix + "/api/packages", self.install, methods=["POST"]),
            Route(prefix + "/api/packages/{name}/export", self.export, methods=["GET"]),
            Route(prefix + "/api/dashboard/views", self.views, methods=["GET"]),
            Route(prefix + "/api/dashboard/views", self.choose_views, methods=["PUT"]),
        ]

    async def listing(self, request: Request) -> Response:
        tenant_id = await request_tenant(self.store, request)
        return json_response({"value": await installed(self.store, tenant_id), "builtIn": list(BUILT_IN)})

    async def install(self, request: Request) -> Response:
        tenant_id = await request_tenant(self.store, request)
        package = parse_package(await read_json(request, self.settings.max_body_bytes))
        report = await install(self.store, tenant_id, package)
        await self.rules.changed()
        return json_response(report, 201)

    async def export(self, request: Request) -> Response:
        tenant_id = await request_tenant(self.store, request)
        name = request.path_params["name"]
        body = await export(self.store, tenant_id, name)
        return json_response(body, headers={
            "Content-Disposition": f'attachment; filename="{body["name"]}-{body["version"]}.json"'})

    async def views(self, request: Request) -> Response:
        tenant_id = await request_tenant(self.store, request)
        return json_response({"views": await views.shown(self.store, tenant_id)})

    async def choose_views(self, request: Request) -> Response:
        tenant_id = await request_tenant(self.store, request)
        chosen = views.parse_views(await read_json(request, self.settings.max_body_bytes))
        await views.choose(self.store, tenant_id, chosen)
        return json_response({"views": chosen})
