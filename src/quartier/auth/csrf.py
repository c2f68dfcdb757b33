"""Protection of cookie-authenticated writes against cross-site request forgery.

A browser sends the session cookie with any request to this site, also one that another
site's page makes it send. So a write that the session cookie authenticates must also
carry the session's CSRF token in ``X-CSRF-Token`` (only a page of this site can read it,
from ``GET /api/session``), and must not come from another origin (``Origin``, or
``Sec-Fetch-Site`` where a browser sends no ``Origin``). Requests with an API key carry
no cookie authority and are not concerned.

The token is an HMAC of the session id: tied to the session, new with every login, and
nothing more to store.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any
from urllib.parse import urlsplit

from quartier.errors import Forbidden

HEADER = "X-CSRF-Token"


def token_for(session_id: str) -> str:
    return hmac.new(session_id.encode("ascii"), b"quartier csrf token", hashlib.sha256).hexdigest()


def _header(scope: Any, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _own_origins(scope: Any, base_url: str) -> set[str]:
    origins = set()
    host = _header(scope, b"host")
    if host:
        origins.add(f"{scope.get('scheme', 'http')}://{host}".lower())
    if base_url:
        parts = urlsplit(base_url)
        origins.add(f"{parts.scheme}://{parts.netloc}".lower())
    return origins


def check_origin(scope: Any, base_url: str) -> None:
    """403 for a browser request that another site's page made."""
    origin = _header(scope, b"origin")
    if origin is not None:
        if origin.lower() not in _own_origins(scope, base_url):
            raise Forbidden(f"a request from another site ({origin}) may not use the session "
                            "cookie to change anything; use an API key for cross-site clients")
        return
    site = _header(scope, b"sec-fetch-site")
    if site is not None and site != "same-origin":
        raise Forbidden(f"a {site} request may not use the session cookie to change anything; "
                        "use an API key for cross-site clients")


def check(scope: Any, session_id: str, base_url: str) -> None:
    """403 unless a cookie-authenticated write comes from this site with its session's token."""
    check_origin(scope, base_url)
    token = _header(scope, HEADER.lower().encode())
    if not token:
        raise Forbidden(f"a write authenticated by the session cookie must carry the {HEADER} "
                        "header, with the csrfToken that GET /api/session gives")
    if not hmac.compare_digest(token.encode("latin-1"), token_for(session_id).encode()):
        raise Forbidden(f"the {HEADER} does not belong to this session; get it again from "
                        "GET /api/session (it changes with each login)")
