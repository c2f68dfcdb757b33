"""An OpenID Connect issuer's signing keys (its JWKS), fetched when needed and kept a while.

The keys are fetched with an async HTTP client, so a fetch never blocks the event loop,
and one lock lets concurrent requests share a fetch. They are kept for
:data:`KEEP_SECONDS`; a token signed by a key id (``kid``) the kept set lacks makes it be
fetched again at once, as an issuer that rotates its keys publishes the new one before it
signs with it, but at most once in ``refetch_seconds``, so that tokens with made-up key
ids cannot make Quartier hammer the issuer. Each worker process keeps its own copy: a
cache, not state.

The keys are parsed by PyJWT (``PyJWK``), which also checks the signatures
(:mod:`quartier.auth.oidc`); its own ``PyJWKClient`` is not used because it fetches with
blocking ``urllib`` calls and refetches without a rate limit.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import httpx2 as httpx
import jwt

from quartier.errors import ServiceUnavailable

log = logging.getLogger(__name__)

KEEP_SECONDS = 3600.0  # how long a fetched key set is used before it is fetched again
_TIMEOUT = 5.0
_SIGNING = ("RS256", "ES256")


class IssuerKeys:
    """The signing keys of one issuer, by key id."""

    def __init__(self, issuer: str, jwks_url: str = "", refetch_seconds: float = 60.0) -> None:
        self.issuer = issuer
        self.jwks_url = jwks_url  # empty until discovered
        self.refetch_seconds = refetch_seconds
        self.fetches = 0  # fetches done, successful or not
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched = -float("inf")  # monotonic time of the last fetch, successful or not
        self._unreachable = False  # the last fetch failed
        self._lock = asyncio.Lock()

    async def key(self, kid: str) -> jwt.PyJWK | None:
        """The key ``kid``; None when the issuer does not publish it."""
        if self._due(kid):
            seen = self.fetches
            async with self._lock:  # who waited here uses the set fetched meanwhile
                if self.fetches == seen and self._due(kid):
                    await self._refresh()
        if not self._keys and self._unreachable:
            raise ServiceUnavailable("the identity provider's signing keys could not be fetched; "
                                     "try again later")
        return self._keys.get(kid)

    def _due(self, kid: str) -> bool:
        age = time.monotonic() - self._fetched
        return age >= KEEP_SECONDS or (kid not in self._keys and age >= self.refetch_seconds)

    async def _refresh(self) -> None:
        self._fetched = time.monotonic()
        try:
            async with httpx.AsyncClient(timeout=_TIMEOUT, follow_redirects=False) as client:
                if not self.jwks_url:
                    self.jwks_url = await self._discover(client)
                document = await _json(client, self.jwks_url)
        except (httpx.HTTPError, ValueError) as exc:  # the keys fetched before stay in use
            log.warning("could not fetch the signing keys of %s: %s", self.issuer, exc)
            self._unreachable = True
            return
        finally:  # counted when done: who waited for this fetch does not start another
            self.fetches += 1
        self._unreachable = False
        self._keys = _signing_keys(document)
        log.info("fetched %d signing keys of %s", len(self._keys), self.issuer)

    async def _discover(self, client: httpx.AsyncClient) -> str:
        url = self.issuer.rstrip("/") + "/.well-known/openid-configuration"
        document = await _json(client, url)
        if document.get("issuer") != self.issuer:
            raise ValueError(f"{url} names the issuer {document.get('issuer')!r}")
        jwks_uri = document.get("jwks_uri")
        if not isinstance(jwks_uri, str) or not jwks_uri.startswith(("https://", "http://")):
            raise ValueError(f"{url} has no jwks_uri")
        return jwks_uri


async def _json(client: httpx.AsyncClient, url: str) -> dict[str, Any]:
    response = await client.get(url, headers={"Accept": "application/json"})
    response.raise_for_status()
    document = response.json()
    if not isinstance(document, dict):
        raise ValueError(f"{url} did not answer with a JSON object")
    return document


def _signing_keys(document: dict[str, Any]) -> dict[str, jwt.PyJWK]:
    """The RS256 and ES256 signature keys of a JWKS, by key id; others are left out."""
    out: dict[str, jwt.PyJWK] = {}
    for data in document.get("keys", []):
        if not isinstance(data, dict) or data.get("use", "sig") != "sig":
            continue
        kid = data.get("kid")
        if not isinstance(kid, str):
            continue
        try:
            key = jwt.PyJWK(data)
        except jwt.PyJWTError:
            continue  # a kind of key Quartier does not take
        if key.algorithm_name in _SIGNING:
            out[kid] = key
    return out
