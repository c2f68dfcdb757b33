"""The principal of the request being served, for handlers that need to know who asks."""

from __future__ import annotations

from contextvars import ContextVar

from quartier.auth.principal import Principal

current_principal: ContextVar[Principal | None] = ContextVar("quartier_principal", default=None)
