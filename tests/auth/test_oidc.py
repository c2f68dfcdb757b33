"""OpenID Connect bearer tokens: signed by keys that a real local HTTP server publishes."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import orjson
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from conftest import AnonymousClient, TestClient, create_tenant, make_app
from quartier.auth.jwks import IssuerKeys
from quartier.auth.oidc_config import OidcConfig
from quartier.errors import SettingsError
from quartier.settings import Settings

AUDIENCE = "quartier"
BOTH = pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
ROLE_MAP = "stadt-viewer=viewer leitstelle=operator stadt-editor=editor stadt-admin=admin"


class IdentityProvider:
    """An issuer's discovery document and JWKS, served over HTTP on 127.0.0.1."""

    def __init__(self) -> None:
        self.keys: dict[str, Any] = {}  # kid -> private key
        self.published: list[str] = []  # the kids in the JWKS
        self.jwks_fetches = 0
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/.well-known/openid-configuration":
                    body = {"issuer": provider.issuer, "jwks_uri": provider.issuer + "/certs"}
                elif self.path == "/certs":
                    provider.jwks_fetches += 1
                    body = {"keys": [provider.jwk(kid) for kid in provider.published]}
                else:
                    self.send_error(404)
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.issuer = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def add_key(self, kid: str, kind: str = "rsa", publish: bool = True) -> None:
        self.keys[kid] = (rsa.generate_private_key(public_exponent=65537, key_size=2048)
                          if kind == "rsa" else ec.generate_private_key(ec.SECP256R1()))
        if publish:
            self.published.append(kid)

    def jwk(self, kid: str) -> dict[str, Any]:
        public = self.keys[kid].public_key()
        if isinstance(public, rsa.RSAPublicKey):
            data = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(public))
        else:
            data = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(public))
        return {**data, "kid": kid, "use": "sig"}

    def token(self, kid: str = "rsa-1", **claims: Any) -> str:
        now = int(time.time())
        body = {"iss": self.issuer, "aud": AUDIENCE, "sub": "u-4711", "iat": now, "exp": now + 300,
                "preferred_username": "m.muster", "realm_access": {"roles": ["stadt-editor"]}}
        body.update(claims)
        body = {k: v for k, v in body.items() if v is not None}
        key = self.keys[kid]
        alg = "RS256" if isinstance(key, rsa.RSAPrivateKey) else "ES256"
        return jwt.encode(body, key, algorithm=alg, headers={"kid": kid})


@pytest.fixture
def idp() -> Iterator[IdentityProvider]:
    provider = IdentityProvider()
    provider.add_key("rsa-1")
    provider.add_key("ec-1", "ec")
    provider.thread.start()
    try:
        yield provider
    finally:
        provider.server.shutdown()
        provider.server.server_close()


def _with_oidc(settings: Settings, idp: IdentityProvider, **more: Any) -> Settings:
    values = {"oidc_issuer": idp.issuer, "oidc_audience": AUDIENCE,
              "oidc_role_claim": "realm_access.roles", "oidc_roles": ROLE_MAP,
              "oidc_jwks_refetch_seconds": 0, **more}
    configured = dataclasses.replace(settings, **values)
    configured.check()
    return configured


@pytest.fixture
def running(settings: Settings, idp: IdentityProvider) -> Iterator[tuple[Any, TestClient]]:
    app = make_app(_with_oidc(settings, idp))
    with TestClient(app, raise_server_exceptions=False) as admin:
        yield app, admin


def _bearer(running: tuple[Any, TestClient], token: str) -> AnonymousClient:
    app, admin = running
    client = AnonymousClient(app, raise_server_exceptions=False)
    client.portal = admin.portal  # the app runs in the admin client's event loop
    client.headers["Authorization"] = f"Bearer {token}"
    return client


# (method, path, body, the least role that may)
REQUESTS = [
    ("GET", "/api/channels", None, "viewer"),
    ("POST", "/api/alerts/999/acknowledge", {}, "operator"),
    ("POST", "/v1.1/Things", {"name": "n", "description": "d"}, "editor"),
    ("GET", "/api/keys", None, "admin"),
]
ROLES = ("viewer", "operator", "editor", "admin")
CLAIM_VALUE = {"viewer": "stadt-viewer", "operator": "leitstelle", "editor": "stadt-editor",
               "admin": "stadt-admin"}


@BOTH
def test_a_tokens_roles_are_mapped_and_the_rule_table_decides(running: Any, idp: IdentityProvider) -> None:
    for role in ROLES:
        for kid in ("rsa-1", "ec-1"):  # RS256 and ES256
            token = idp.token(kid, realm_access={"roles": ["offline_access", CLAIM_VALUE[role]]})
            client = _bearer(running, token)
            for method, path, body, least in REQUESTS:
                response = client.request(method, path, json=body)
                if ROLES.index(role) >= ROLES.index(least):
                    assert response.status_code not in (401, 403, 500), (role, path, response.text)
                else:
                    assert response.status_code == 403, (role, path, response.text)
                    assert response.json()["code"] == "forbidden"
    # Several values: the highest role wins; none that maps: 403, also for reads.
    both = _bearer(running, idp.token(realm_access={"roles": ["stadt-viewer", "stadt-admin"]}))
    assert both.get("/api/keys").status_code == 200
    nobody = _bearer(running, idp.token(realm_access={"roles": ["offline_access"]}))
    refused = nobody.get("/v1.1/Things")
    assert refused.status_code == 403
    assert "realm_access.roles" in refused.json()["message"]


def _hs256_with_public_key(idp: IdentityProvider) -> str:
    """A token 'signed' with HMAC keyed by the issuer's public key, the classic confusion."""
    pem = idp.keys["rsa-1"].public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    good = idp.token()
    head = _b64({"alg": "HS256", "typ": "JWT", "kid": "rsa-1"})
    payload = good.split(".")[1]
    signature = hmac.new(pem, f"{head}.{payload}".encode(), hashlib.sha256).digest()
    return f"{head}.{payload}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"


def _b64(value: Any) -> str:
    return _b64_text(orjson.dumps(value))


def _b64_text(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@BOTH
def test_bad_tokens_are_401_with_a_clear_message_and_never_echoed(running: Any,
                                                                   idp: IdentityProvider) -> None:
    now = int(time.time())
    idp.add_key("rogue", publish=False)
    forged = idp.token("rogue").split(".")
    good = idp.token().split(".")
    broken_header = _b64_text(b'{"alg":"RS256",')  # not JSON
    unsigned = f"{_b64({'alg': 'none', 'typ': 'JWT', 'kid': 'rsa-1'})}.{good[1]}."
    cases = {
        "expired": (idp.token(exp=now - 120), "expired"),
        "not yet valid": (idp.token(nbf=now + 600), "not valid yet"),
        "other issuer": (idp.token(iss="https://login.example.org/realms/andere"), "issuer"),
        "other audience": (idp.token(aud="grafana"), "audience"),
        "no audience": (idp.token(aud=None), "'aud'"),
        "no expiry": (idp.token(exp=None), "'exp'"),
        "no subject": (idp.token(sub=None), "'sub'"),
        "bad signature": (f"{good[0]}.{good[1]}.{forged[2]}", "signature"),
        "alg none": (unsigned, "algorithm"),
        "HS256 with the public key": (_hs256_with_public_key(idp), "algorithm"),
        "garbled": (f"{broken_header}.{good[1]}.{good[2]}", "malformed"),
    }
    for name, (token, words) in cases.items():
        response = _bearer(running, token).get("/v1.1/Things")
        assert response.status_code == 401, (name, response.text)
        body = response.json()
        assert body["code"] == "unauthorized", name
        assert words in body["message"], (name, body["message"])
        assert token not in response.text and token.split(".")[1] not in response.text, name
        assert response.headers["www-authenticate"].startswith("Bearer")
    # The clock leeway: a token that ran out a few seconds ago still counts.
    assert _bearer(running, idp.token(exp=now - 5)).get("/api/channels").status_code == 200


@BOTH
def test_an_unknown_key_id_refetches_the_keys_and_rotation_works(running: Any,
                                                                 idp: IdentityProvider) -> None:
    old = idp.token("rsa-1")
    assert _bearer(running, old).get("/api/channels").status_code == 200
    assert idp.jwks_fetches == 1
    assert _bearer(running, idp.token()).get("/api/channels").status_code == 200
    assert idp.jwks_fetches == 1  # kept, not fetched per request
    idp.add_key("later", publish=False)
    unknown = _bearer(running, idp.token("later")).get("/api/channels")
    assert unknown.status_code == 401 and "does not publish" in unknown.json()["message"]
    assert idp.jwks_fetches == 2  # looked again before refusing
    # The issuer rotates: publishes a new key and drops the old one.
    idp.add_key("rsa-2")
    idp.published.remove("rsa-1")
    assert _bearer(running, idp.token("rsa-2")).get("/api/channels").status_code == 200
    assert idp.jwks_fetches == 3
    assert _bearer(running, old).get("/api/channels").status_code == 401


@BOTH
def test_refetches_for_unknown_key_ids_are_rate_limited(settings: Settings, idp: IdentityProvider) -> None:
    app = make_app(_with_oidc(settings, idp, oidc_jwks_refetch_seconds=3600))
    with TestClient(app, raise_server_exceptions=False) as admin:
        client = _bearer((app, admin), idp.token())
        assert client.get("/api/channels").status_code == 200
        idp.add_key("made-up", publish=False)
        for _ in range(3):
            assert _bearer((app, admin), idp.token("made-up")).get("/api/channels").status_code == 401
        assert idp.jwks_fetches == 1


def test_concurrent_requests_share_one_fetch_of_the_keys(idp: IdentityProvider) -> None:
    keys = IssuerKeys(idp.issuer, refetch_seconds=0)

    async def ask() -> list[Any]:
        return await asyncio.gather(*(keys.key(kid) for kid in ("rsa-1", "ec-1", "nope") * 3))

    found = asyncio.run(ask())
    assert [k is not None for k in found] == [True, True, False] * 3
    assert idp.jwks_fetches == 1 and keys.jwks_url == idp.issuer + "/certs"


@BOTH
def test_a_token_for_one_tenant_does_not_work_on_another(settings: Settings, idp: IdentityProvider) -> None:
    create_tenant(settings, "nachbar")
    configured = _with_oidc(settings, idp, oidc_tenant_claim="town",
                            oidc_tenants="muehlbach=default nachbarort=nachbar")
    app = make_app(configured)
    with TestClient(app, raise_server_exceptions=False) as admin:
        home = _bearer((app, admin), idp.token(town="muehlbach"))
        assert home.get("/api/channels").status_code == 200
        response = home.get("/t/nachbar/api/channels")
        assert response.status_code == 401
        assert "tenant" in response.json()["message"]
        assert home.post("/t/nachbar/v1.1/Things", json={"name": "n", "description": "d"}).status_code == 401
        neighbour = _bearer((app, admin), idp.token(town=["nachbarort"]))
        assert neighbour.get("/t/nachbar/api/channels").status_code == 200
        assert neighbour.get("/api/channels").status_code == 401
        for claims in ({"town": None}, {"town": "unbekannt"}):
            assert _bearer((app, admin), idp.token(**claims)).get("/api/channels").status_code == 401
        assert admin.get("/t/nachbar/v1.1/Things").json()["value"] == []  # nothing written there


@BOTH
def test_writes_by_token_are_audited_as_the_oidc_principal(running: Any, idp: IdentityProvider) -> None:
    _app, admin = running
    editor = _bearer(running, idp.token(sub="a1b2-c3", preferred_username="e.schmidt"))
    assert editor.post("/v1.1/Things", json={"name": "Pegel", "description": "d"}).status_code == 201
    entries = admin.get("/api/audit", params={"principal": "oidc:a1b2-c3"}).json()["value"]
    assert len(entries) == 1
    assert entries[0]["principal_name"] == "e.schmidt"
    assert entries[0]["role"] == "editor"
    assert entries[0]["action"] == "sensorthings.create"


@pytest.mark.parametrize("backend", ["sqlite"])
def test_tokens_are_refused_clearly_when_no_issuer_is_configured(client: TestClient,
                                                                 idp: IdentityProvider) -> None:
    response = client.get("/api/channels", headers={"Authorization": f"Bearer {idp.token()}"})
    assert response.status_code == 401
    assert "--oidc-issuer" in response.json()["message"]


@pytest.mark.parametrize("backend", ["sqlite"])
def test_an_unreachable_issuer_is_503_not_a_crash(settings: Settings, idp: IdentityProvider) -> None:
    token = idp.token()
    configured = _with_oidc(settings, idp, oidc_jwks_url="http://127.0.0.1:9/certs",
                            oidc_jwks_refetch_seconds=3600)
    app = make_app(configured)
    with TestClient(app, raise_server_exceptions=False) as admin:
        for _ in range(2):  # also while the next fetch is held back
            response = _bearer((app, admin), token).get("/api/channels")
            assert response.status_code == 503
            assert response.json()["code"] == "service_unavailable"


@pytest.mark.parametrize("values", [
    {"oidc_issuer": "https://login.example.de/realms/stadt"},  # no audience
    {"oidc_issuer": "http://login.example.de/realms/stadt", "oidc_audience": "q"},  # plain HTTP
    {"oidc_issuer": "https://login.example.de", "oidc_audience": "q", "oidc_roles": "admin"},
    {"oidc_issuer": "https://login.example.de", "oidc_audience": "q", "oidc_roles": "x=boss"},
    {"oidc_issuer": "https://login.example.de", "oidc_audience": "q", "oidc_role_claim": "a..b"},
    {"oidc_issuer": "https://login.example.de", "oidc_audience": "q", "oidc_tenants": "a=b"},
    {"oidc_jwks_refetch_seconds": "-1"},
])
def test_invalid_oidc_settings_are_refused_at_start(values: dict[str, str]) -> None:
    with pytest.raises(SettingsError):
        Settings.validated(values)


def test_claims_are_found_by_dotted_path_and_mapped() -> None:
    settings = Settings.validated({
        "oidc_issuer": "https://login.example.de", "oidc_audience": "q",
        "oidc_role_claim": "resource_access.quartier.roles", "oidc_tenant_claim": "groups",
        "oidc_tenants": "/muehlbach=default"})
    config = OidcConfig.from_settings(settings)
    claims = {"resource_access": {"quartier": {"roles": ["operator", "viewer", 7]}},
              "groups": ["/muehlbach", "/sonst"]}
    assert config.role_of(claims) is not None and config.role_of(claims).label == "operator"
    assert config.role_of({"resource_access": "operator"}) is None
    assert config.tenant_names(claims) == ["default"]
    assert config.tenant_names({}) == []
