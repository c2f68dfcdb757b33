"""Protection around the whole application: rate limits, the request time limit, CORS
and security headers, each configured by settings (see :func:`protect`)."""

from __future__ import annotations

from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware

from quartier.guard.deadline import Deadline
from quartier.guard.headers import SecurityHeaders
from quartier.guard.ratelimit import RateLimits
from quartier.settings import Settings


def middleware(settings: Settings) -> list[Middleware]:
    """The middleware of :func:`quartier.app.build_app`, outermost first: headers go on
    every answer (429s too), a client over its rate costs no further work, and the time
    limit covers only the request's own work."""
    stack = [Middleware(SecurityHeaders, settings=settings)]
    origins = settings.cors_origins.split()
    if origins:
        stack.append(Middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=settings.cors_methods.split(),
            allow_headers=settings.cors_headers.split(),
            allow_credentials=bool(settings.cors_credentials),
            expose_headers=["Location", "Retry-After"],
            max_age=600,
        ))
    stack.append(Middleware(RateLimits, settings=settings))
    stack.append(Middleware(Deadline, seconds=settings.request_timeout))
    return stack
