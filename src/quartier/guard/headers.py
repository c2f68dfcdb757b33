"""Security headers on every answer: Content-Security-Policy, X-Content-Type-Options,
Referrer-Policy, X-Frame-Options and, behind HTTPS, Strict-Transport-Security.

The default policy fits the dashboard: its scripts and styles come from ``/static`` of
this server and none is inline, its data from this server's APIs, its pictures from
here (Leaflet's markers, ``data:`` for the page icon) and from the tile server of
``map_tiles``. JSON answers carry the same headers; they cost nothing there.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from quartier.settings import Settings


def tile_source(template: str) -> str:
    """The CSP source of a tile URL template: its origin, ``{s}`` subdomains as ``*``;
    empty for a template on this server."""
    if not template or template.startswith("/"):
        return ""
    parts = urlsplit(template.replace("{s}", "tile-subdomain"))
    host = (parts.netloc.rsplit("@", 1)[-1]).replace("tile-subdomain", "*")
    return f"{parts.scheme}://{host}"


def content_security_policy(settings: Settings) -> str:
    if settings.content_security_policy:
        return settings.content_security_policy
    images = " ".join(s for s in ("'self'", "data:", tile_source(settings.map_tiles)) if s)
    return "; ".join((
        "default-src 'self'", "script-src 'self'", "style-src 'self'", f"img-src {images}",
        "connect-src 'self'", "font-src 'self'", "object-src 'none'", "base-uri 'self'",
        "form-action 'self'", f"frame-ancestors {settings.frame_ancestors}",
    ))


def security_headers(settings: Settings) -> list[tuple[str, str]]:
    """The headers the settings ask for, in order."""
    if not settings.security_headers:
        headers = []
    else:
        headers = [
            ("Content-Security-Policy", content_security_policy(settings)),
            ("X-Content-Type-Options", "nosniff"),
            ("Referrer-Policy", settings.referrer_policy),
        ]
        frame = {"'none'": "DENY", "'self'": "SAMEORIGIN"}.get(settings.frame_ancestors.strip())
        if frame:  # for browsers that know no frame-ancestors
            headers.append(("X-Frame-Options", frame))
    if settings.hsts_seconds:
        headers.append(("Strict-Transport-Security",
                        f"max-age={settings.hsts_seconds}; includeSubDomains"))
    return headers


class SecurityHeaders:
    """ASGI middleware: add :func:`security_headers` to every HTTP answer."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.headers = security_headers(settings)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.headers:
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.headers:
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)
