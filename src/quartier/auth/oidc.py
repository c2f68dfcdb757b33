"""OpenID Connect bearer tokens: a signed JWT of the configured issuer makes a Principal.

A token is accepted when its signature verifies with one of the issuer's published keys
(:mod:`quartier.auth.jwks`) by RS256 or ES256 (never ``none``, never an HMAC keyed with a
public key), when it names the configured issuer (``iss``) and audience (``aud``), and when
it is within its ``exp`` and ``nbf`` (with :data:`LEEWAY_SECONDS` for clocks that differ).
Its role and tenant come from claims, as :mod:`quartier.auth.oidc_config` says. A token
for another tenant is a 401, as another tenant's API key is; a valid token that gives no
Quartier role is a 403. Messages never repeat the token.

PyJWT (with ``cryptography``) checks the signature and the standard claims: it is small,
widely used and keeps to RFC 7519; Quartier needs no more of JOSE than that.
"""

from __future__ import annotations

import re
from typing import Any

import jwt

from quartier.auth.jwks import IssuerKeys
from quartier.auth.oidc_config import OidcConfig
from quartier.auth.principal import Principal
from quartier.errors import Forbidden, Unauthorized
from quartier.settings import Settings
from quartier.store import Store

LEEWAY_SECONDS = 30
_ALGORITHMS = ["RS256", "ES256"]
# header.payload.signature, base64url; a JSON header starts with eyJ ('{"').
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
_FAILURES: tuple[tuple[type[jwt.PyJWTError], str], ...] = (
    (jwt.ExpiredSignatureError, "the token has expired"),
    (jwt.ImmatureSignatureError, "the token is not valid yet"),
    (jwt.InvalidAudienceError, "the token is meant for another audience"),
    (jwt.InvalidIssuerError, "the token was issued by another issuer"),
    (jwt.InvalidSignatureError, "the token's signature does not verify"),
    (jwt.InvalidAlgorithmError, "the token's signature algorithm does not fit its key"),
    (jwt.DecodeError, "the token is malformed"),  # after InvalidSignatureError, its subclass
)


def is_token(credential: str) -> bool:
    """Whether a presented credential is shaped like a JWT (an API key is not)."""
    return _JWT.fullmatch(credential) is not None


class TokenCheck:
    """Turns bearer tokens into principals; without an issuer configured, refuses them."""

    def __init__(self, store: Store, config: OidcConfig | None) -> None:
        self.store = store
        self.config = config
        self.keys = (None if config is None else
                     IssuerKeys(config.issuer, config.jwks_url, config.refetch_seconds))

    @classmethod
    def from_settings(cls, store: Store, settings: Settings) -> TokenCheck:
        return cls(store, OidcConfig.from_settings(settings) if settings.oidc_issuer else None)

    async def principal(self, token: str, tenant_id: int) -> Principal:
        """The principal the token stands for in ``tenant_id``; 401 for a token that does
        not verify or is another tenant's, 403 for one that gives no role."""
        if self.config is None or self.keys is None:
            raise Unauthorized("OpenID Connect tokens are not accepted here: no issuer is "
                               "configured (--oidc-issuer); use an API key")
        config = self.config
        claims = await self._claims(token, config, self.keys)
        tenants = [await self.store.tenant_id(name) for name in config.tenant_names(claims)]
        if tenant_id not in tenants:
            raise Unauthorized("the token is not valid for this tenant")
        role = config.role_of(claims)
        if role is None:
            raise Forbidden(f"the token's claim {config.role_claim!r} gives no Quartier role")
        subject = claims["sub"]
        name = next((claims[c] for c in ("preferred_username", "name", "email")
                     if isinstance(claims.get(c), str) and claims[c]), subject)
        return Principal(tenant_id, role, f"oidc:{subject}", name, "oidc")

    @staticmethod
    async def _claims(token: str, config: OidcConfig, keys: IssuerKeys) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise Unauthorized("the token is malformed") from None
        if header.get("alg") not in _ALGORITHMS:
            raise Unauthorized("the token's signature algorithm is not accepted: only RS256 and "
                               "ES256 are")
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise Unauthorized("the token's header names no signing key (kid)")
        key = await keys.key(kid)
        if key is None:
            raise Unauthorized("the token is signed with a key its issuer does not publish")
        try:
            claims = jwt.decode(
                token, key, algorithms=_ALGORITHMS, audience=config.audience,
                issuer=config.issuer, leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.MissingRequiredClaimError as exc:
            raise Unauthorized(f"the token lacks the claim {exc.claim!r}") from None
        except jwt.PyJWTError as exc:
            message = next((m for kind, m in _FAILURES if isinstance(exc, kind)),
                           "the token is not valid")
            raise Unauthorized(message) from None
        if not isinstance(claims.get("sub"), str) or not claims["sub"]:
            raise Unauthorized("the token's subject (sub) must be text")
        return claims
