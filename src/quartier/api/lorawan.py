"""HTTP API for LoRaWAN: device profiles, the device registry, integrations, and the
network servers' webhooks. Every path also works under ``/t/{tenant}``.

    POST   /api/device-profiles               create (201); GET lists them
    GET    /api/device-profiles/{name}        DELETE drops one no device uses
    POST   /api/devices                       one device (JSON object), many (JSON array),
                                              or a CSV (text/csv): all registered, or none
    GET    /api/devices?limit=&offset=&q=     q: name or DevEUI holds it; GET/DELETE /api/devices/{devEui}
    POST   /api/lorawan/integrations          create; the answer shows the secret, once
    GET    /api/lorawan/integrations          GET/DELETE /api/lorawan/integrations/{name}
    POST   /api/lorawan/{name}/uplink         the webhook (TTS) / HTTP integration
                                              (ChirpStack, ``?event=up``), with
                                              ``Authorization: Bearer <secret>``
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from quartier.api.body import JSON_TYPE, media_type, read_bytes, read_json
from quartier.api.params import public_root, request_tenant, whole_number
from quartier.api.responses import json_response
from quartier.errors import BadRequest, NotFound, UnsupportedMediaType
from quartier.lorawan import integrations, profiles
from quartier.lorawan.devices import dev_eui, parse_device, read_csv
from quartier.lorawan.ingest import UplinkIngest
from quartier.settings import Settings
from quartier.store import Store

_MAX_PAGE = 1000
_CSV_TYPES = ("text/csv", "text/plain")


class LorawanApi:
    def __init__(self, store: Store, settings: Settings, ingest: UplinkIngest) -> None:
        self.store = store
        self.settings = settings
        self.ingest = ingest
        self.registry = ingest.registry

    def routes(self, prefix: str) -> list[Route]:
        return [
            Route(prefix + "/api/device-profiles", self.create_profile, methods=["POST"]),
            Route(prefix + "/api/device-profiles", self.profiles, methods=["GET"]),
            Route(prefix + "/api/device-profiles/{name}", self.profile, methods=["GET"]),
            Route(prefix + "/api/device-profiles/{name}", self.delete_profile, methods=["DELETE"]),
            Route(prefix + "/api/devices", self.register, methods=["POST"]),
            Route(prefix + "/api/devices", self.devices, methods=["GET"]),
            Route(prefix + "/api/devices/{eui}", self.device, methods=["GET"]),
            Route(prefix + "/api/devices/{eui}", self.delete_device, methods=["DELETE"]),
            Route(prefix + "/api/lorawan/integrations", self.create_integration, methods=["POST"]),
            Route(prefix + "/api/lorawan/integrations", self.integrations, methods=["GET"]),
            Route(prefix + "/api/lorawan/integrations/{name}", self.integration, methods=["GET"]),
            Route(prefix + "/api/lorawan/integrations/{name}", self.delete_integration,
                  methods=["DELETE"]),
        ]

    def webhook_routes(self, prefix: str) -> list[Route]:
        """The network servers' uplink webhooks (busy: the app tries them early)."""
        return [Route(prefix + "/api/lorawan/{name}/uplink", self.uplink, methods=["POST"])]

    async def _tenant(self, request: Request) -> int:
        return await request_tenant(self.store, request)

    async def _json(self, request: Request) -> Any:
        return await read_json(request, self.settings.max_body_bytes)

    # -- profiles ----------------------------------------------------------------------

    async def create_profile(self, request: Request) -> Response:
        tenant_id = await self._tenant(request)
        profile = profiles.parse_profile(await self._json(request))
        stored = await profiles.create(self.store, tenant_id, profile)
        return json_response(stored.as_json(), 201,
                             {"Location": f"{request.url.path}/{stored.name}"})

    async def profiles(self, request: Request) -> Response:
        found = await profiles.listing(self.store, await self._tenant(request))
        return json_response({"value": [p.as_json() for p in found]})

    async def profile(self, request: Request) -> Response:
        tenant_id = await self._tenant(request)
        name = request.path_params["name"]
        found = await profiles.find(self.store, tenant_id, name)
        if found is None:
            raise NotFound(f"no device profile {name!r}")
        return json_response(found.as_json())

    async def delete_profile(self, request: Request) -> Response:
        await profiles.delete(self.store, await self._tenant(request), request.path_params["name"])
        return Response(status_code=204)

    # -- devices -----------------------------------------------------------------------

    async def register(self, request: Request) -> Response:
        tenant_id = await self._tenant(request)
        kind = media_type(request)
        if kind in _CSV_TYPES:
            data = await read_bytes(request, self.settings.max_body_bytes)
            try:
                text = data.decode("utf-8-sig")
            except UnicodeDecodeError as exc:
                raise BadRequest(f"the CSV is not UTF-8 text (byte {exc.start})") from None
            new = read_csv(text)
        elif kind == JSON_TYPE:
            body = await self._json(request)
            if isinstance(body, list):
                if not body:
                    raise BadRequest("the list of devices is empty")
                new = [parse_device(item, f"device [{i}]") for i, item in enumerate(body)]
                if len({d.dev_eui for d in new}) < len(new):
                    raise BadRequest("the list names a DevEUI more than once")
            else:
                new = [parse_device(body)]
        else:
            raise UnsupportedMediaType(
                f"register devices with a JSON object or array ({JSON_TYPE}) or a CSV (text/csv), "
                f"not {kind or 'a body without Content-Type'}")
        stored = await self.registry.register(tenant_id, new)
        if kind == JSON_TYPE and len(stored) == 1 and not isinstance(body, list):
            return json_response(stored[0].as_json(), 201,
                                 {"Location": f"{request.url.path}/{stored[0].dev_eui}"})
        return json_response({"registered": len(stored), "value": [d.as_json() for d in stored]}, 201)

    async def devices(self, request: Request) -> Response:
        limit = whole_number(request, "limit", 100)
        offset = whole_number(request, "offset", 0)
        if not 1 <= limit <= _MAX_PAGE:
            raise BadRequest(f"limit must be between 1 and {_MAX_PAGE}")
        search = request.query_params.get("q", "").strip()
        if len(search) > 200:
            raise BadRequest("q is at most 200 characters")
        found, total = await self.registry.listing(await self._tenant(request), limit, offset, search)
        return json_response({"total": total, "value": [d.as_json() for d in found]})

    async def device(self, request: Request) -> Response:
        tenant_id = await self._tenant(request)
        eui = _eui(request)
        return json_response((await self.registry.find(tenant_id, eui)).as_json())

    async def delete_device(self, request: Request) -> Response:
        await self.registry.delete(await self._tenant(request), _eui(request))
        return Response(status_code=204)

    # -- integrations and uplinks ----------------------------------------------------------

    async def create_integration(self, request: Request) -> Response:
        tenant_id = await self._tenant(request)
        integration, secret = await integrations.create(self.store, tenant_id,
                                                        await self._json(request))
        prefix = request.url.path.removesuffix("/integrations")
        body = {**integration.as_json(), "secret": secret,
                "webhook": public_root(self.settings, request) + f"{prefix}/{integration.name}/uplink"}
        return json_response(body, 201, {"Location": f"{request.url.path}/{integration.name}"})

    async def integrations(self, request: Request) -> Response:
        found = await integrations.listing(self.store, await self._tenant(request))
        return json_response({"value": [i.as_json() for i in found]})

    async def integration(self, request: Request) -> Response:
        found = await integrations.find(self.store, await self._tenant(request),
                                        request.path_params["name"])
        return json_response(found.as_json())

    async def delete_integration(self, request: Request) -> Response:
        await integrations.delete(self.store, await self._tenant(request),
                                  request.path_params["name"])
        return Response(status_code=204)

    async def uplink(self, request: Request) -> Response:
        tenant_id = await self._tenant(request)
        integration = await self.ingest.integration(
            tenant_id, request.path_params["name"], request.headers.get("authorization"))
        payload = await read_bytes(request, self.settings.max_body_bytes)
        event = request.query_params.get("event", "up")
        stored = await self.ingest.message(integration, payload, event, "webhook", integration.name)
        if stored.ignored is not None:
            return json_response({"ignored": stored.ignored}, 202)
        assert stored.device is not None
        root = public_root(self.settings, request)
        base = root + request.scope["path"].partition("/api/")[0] + "/v1.1"
        return json_response({
            "devEui": stored.device.dev_eui, "duplicate": stored.duplicate,
            "Observations": [f"{base}/Observations({i})" for i in stored.observations],
        }, 200 if stored.duplicate else 201)


def _eui(request: Request) -> str:
    try:
        return dev_eui(request.path_params["eui"])
    except BadRequest:
        raise NotFound(f"no device with DevEUI {request.path_params['eui']!r}") from None
