"""What an OpenID Connect issuer's tokens mean here: the settings, checked once at start-up.

Which claim holds the roles and which claim values give which Quartier role; which claim
names the tenant and which values stand for which tenant. Claims are found by a dotted
path, so that nested ones such as Keycloak's ``realm_access.roles`` can be named.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from quartier.auth.roles import Role
from quartier.errors import BadRequest, SettingsError

if TYPE_CHECKING:
    from quartier.settings import Settings

_LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class OidcConfig:
    issuer: str
    audience: str
    jwks_url: str  # empty: discovered from the issuer
    role_claim: str
    roles: dict[str, Role] = field(default_factory=dict)  # empty: role labels as they are
    tenant_claim: str = ""  # empty: the default tenant only
    tenants: dict[str, str] = field(default_factory=dict)  # empty: values are tenant names
    refetch_seconds: int = 60

    @classmethod
    def from_settings(cls, settings: Settings) -> OidcConfig:
        """The configuration of ``settings``; SettingsError for what is amiss."""
        issuer = settings.oidc_issuer
        _check_url("oidc_issuer", issuer)
        if settings.oidc_jwks_url:
            _check_url("oidc_jwks_url", settings.oidc_jwks_url)
        if not settings.oidc_audience:
            raise SettingsError("oidc_audience is needed with oidc_issuer: tokens meant for other "
                                "applications of the same issuer must not be accepted here")
        if not _is_path(settings.oidc_role_claim):
            raise SettingsError("oidc_role_claim must be a claim name or a dotted path such as "
                                f"realm_access.roles, not {settings.oidc_role_claim!r}")
        if settings.oidc_tenant_claim and not _is_path(settings.oidc_tenant_claim):
            raise SettingsError("oidc_tenant_claim must be a claim name or a dotted path, not "
                                f"{settings.oidc_tenant_claim!r}")
        try:
            roles = {value: Role.parse(label)
                     for value, label in _pairs("oidc_roles", settings.oidc_roles).items()}
        except BadRequest as exc:
            raise SettingsError(f"oidc_roles: {exc.message}") from None
        tenants = _pairs("oidc_tenants", settings.oidc_tenants)
        if tenants and not settings.oidc_tenant_claim:
            raise SettingsError("oidc_tenants needs oidc_tenant_claim: the claim whose values it maps")
        return cls(issuer, settings.oidc_audience, settings.oidc_jwks_url,
                   settings.oidc_role_claim, roles, settings.oidc_tenant_claim, tenants,
                   settings.oidc_jwks_refetch_seconds)

    def role_of(self, claims: dict[str, Any]) -> Role | None:
        """The highest role the token's role claim gives; None for none."""
        found = [self._role(value) for value in claim_values(claims, self.role_claim)]
        given = [role for role in found if role is not None]
        return max(given) if given else None

    def _role(self, value: str) -> Role | None:
        if self.roles:
            return self.roles.get(value)
        return next((role for role in Role if role.label == value), None)

    def tenant_names(self, claims: dict[str, Any]) -> list[str]:
        """The names of the tenants the token is for."""
        if not self.tenant_claim:
            return ["default"]
        values = claim_values(claims, self.tenant_claim)
        if not self.tenants:
            return values
        return [self.tenants[v] for v in values if v in self.tenants]


def claim_values(claims: dict[str, Any], path: str) -> list[str]:
    """The text values of the claim at the dotted ``path``: a list's text items, a text
    split at spaces (as OAuth's ``scope`` is), nothing when the claim is missing."""
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return []
        value = value[part]
    if isinstance(value, str):
        return value.split()
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


def _is_path(text: str) -> bool:
    return bool(text) and all(part and not part.isspace() for part in text.split("."))


def _check_url(name: str, url: str) -> None:
    parts = urlsplit(url)
    # Keys fetched over plain HTTP could be swapped on the way; only a local issuer may.
    if parts.hostname and (parts.scheme == "https"
                           or (parts.scheme == "http" and parts.hostname in _LOCAL_HOSTS)):
        return
    raise SettingsError(f"{name} must be an https:// URL (http:// only on this machine), not {url!r}")


def _pairs(name: str, text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in text.split():
        value, sep, target = pair.partition("=")
        if not sep or not value or not target:
            raise SettingsError(f"{name} must be value=name pairs separated by spaces, not {pair!r}")
        out[value] = target
    return out
