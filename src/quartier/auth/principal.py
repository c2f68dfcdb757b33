"""The principal: who a request acts for, whatever proved it."""

from __future__ import annotations

from dataclasses import dataclass, field

from quartier.auth.roles import Role

ALL_AREAS = "*"


@dataclass(frozen=True)
class Principal:
    """A tenant's user or machine, with a role and the API areas it may use.

    ``id`` names it in the audit log for good (``key:qk_3f9a1c2b``); ``name`` is what a
    person called it. ``source`` says what proved it: ``api-key``, ``oidc`` (a bearer token
    of the configured issuer, id ``oidc:{sub}``), ``device`` (a device credential, id
    ``device:{prefix}``, bound to the Thing ``device``).
    """

    tenant_id: int
    role: Role
    id: str
    name: str
    source: str
    scopes: frozenset[str] = field(default_factory=lambda: frozenset({ALL_AREAS}))
    device: int | None = None  # a device credential's Thing: it may only add Observations there

    def covers(self, area: str) -> bool:
        """Whether the principal's scopes include the API area ``area``."""
        return ALL_AREAS in self.scopes or area in self.scopes
