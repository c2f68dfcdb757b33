"""Rate limits: a token bucket per client address, per API key and per principal, in
each worker.

A bucket holds up to ``burst`` tokens and gains ``rate`` per second; a request takes one,
and a request that finds none gets 429 with ``Retry-After``. Every limit that applies must
have a token (address and key are counted apart). The device ingest paths (LoRaWAN
webhooks, CreateObservations) have buckets of their own with their own rate, or none,
because a network server sends a town's uplinks from one address.

The buckets live in each worker's memory: with N workers a client may get up to N times
the rate. That is a bound against floods, not an exact quota; a proxy or a shared store
would give exact figures across machines.

The API key is read as an opaque text from ``Authorization: Bearer`` or ``X-API-Key``
and only its hash is kept: whether it is valid is for the API's authentication to say.
That limit runs before the key is looked up, so a flood of made-up keys costs no
database reads. The principal's limit (:class:`PrincipalLimits`) runs after the access
gate has said who asks: it counts every request of one principal (``Principal.id``,
``key:qk_…`` for an API key, whatever proved it, Basic auth included) in one bucket.
"""

from __future__ import annotations

import hashlib
import math
import re
import time
from collections.abc import Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from quartier.api.responses import error_response
from quartier.auth.context import current_principal
from quartier.errors import TooManyRequests
from quartier.settings import Settings

_INGEST = re.compile(r"(/t/[^/]+)?(/api/lorawan/[^/]+/uplink|/v1\.[01]/CreateObservations)/?")
_PRUNE_AT = 10_000  # buckets kept before the full ones are forgotten


class Buckets:
    """Token buckets of one rate and size, by key."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._state: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)

    def take(self, key: str) -> float:
        """Take a token for ``key``: 0 when there was one, else seconds until there is."""
        now = self._clock()
        tokens, at = self._state.get(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - at) * self.rate)
        if tokens >= 1.0:
            self._state[key] = (tokens - 1.0, now)
            if len(self._state) > _PRUNE_AT:
                self._prune(now)
            return 0.0
        self._state[key] = (tokens, now)
        return (1.0 - tokens) / self.rate

    def _prune(self, now: float) -> None:
        """Forget the buckets that have filled up again: they start full anyway."""
        full = [key for key, (tokens, at) in self._state.items()
                if tokens + (now - at) * self.rate >= self.burst]
        for key in full:
            del self._state[key]


def api_key(scope: Scope) -> str | None:
    """The hash of the request's API key, if it names one."""
    for name, value in scope["headers"]:
        if name == b"x-api-key" and value:
            return _hashed(value)
        if name == b"authorization" and value[:7].lower() == b"bearer " and value[7:].strip():
            return _hashed(value[7:].strip())
    return None


def _hashed(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()


class RateLimits:
    """ASGI middleware: the rate limits of the settings."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app

        def buckets(rate: int, burst: int) -> Buckets | None:
            return Buckets(rate, burst) if rate else None

        self._address = buckets(settings.rate_limit_address, settings.rate_burst_address)
        self._key = buckets(settings.rate_limit_key, settings.rate_burst_key)
        self._ingest = buckets(settings.rate_limit_ingest, settings.rate_burst_ingest)
        self._off = not (self._address or self._key or self._ingest)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._off or scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        address = client[0] if client else "unknown"
        key = api_key(scope)
        checks: list[tuple[Buckets | None, str | None]]
        if _INGEST.fullmatch(scope["path"]):
            checks = [(self._ingest, "a" + address), (self._ingest, key and "k" + key)]
        else:
            checks = [(self._address, address), (self._key, key)]
        wait = 0.0
        for bucket, name in checks:
            if bucket is not None and name is not None:
                wait = max(wait, bucket.take(name))
        if wait > 0:
            await _refuse(wait, scope, receive, send)
            return
        await self.app(scope, receive, send)


class PrincipalLimits:
    """ASGI middleware inside the access gate: the rate of each authenticated principal.
    The ingest paths are left to their own limit (see :class:`RateLimits`)."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        rate = settings.rate_limit_principal
        self._buckets = Buckets(rate, settings.rate_burst_principal) if rate else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        principal = current_principal.get() if scope["type"] == "http" else None
        if self._buckets is not None and principal is not None and not _INGEST.fullmatch(scope["path"]):
            wait = self._buckets.take(principal.id)
            if wait > 0:
                await _refuse(wait, scope, receive, send)
                return
        await self.app(scope, receive, send)


async def _refuse(wait: float, scope: Scope, receive: Receive, send: Send) -> None:
    retry = max(1, math.ceil(wait))
    await error_response(TooManyRequests(
        f"too many requests; try again in {retry} s", retry_after=retry,
    ))(scope, receive, send)
