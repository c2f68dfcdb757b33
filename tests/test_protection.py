"""Rate limits, CORS and security headers (SQLite: they do not depend on the backend)."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient as AnonymousClient

from conftest import TestClient, issue_key
from quartier.app import build_app
from quartier.guard.ratelimit import Buckets
from quartier.settings import Settings


@pytest.fixture
def make_client(tmp_path: Path) -> Iterator[Any]:
    clients: list[TestClient] = []

    def make(**values: Any) -> TestClient:
        settings = Settings.validated({"data_dir": tmp_path, **values})
        client = TestClient(build_app(settings), raise_server_exceptions=False)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


def test_token_bucket_refills_at_its_rate() -> None:
    now = [0.0]
    buckets = Buckets(rate=2, burst=3, clock=lambda: now[0])
    assert [buckets.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("a") == pytest.approx(0.5)
    assert buckets.take("b") == 0.0  # another key has its own bucket
    now[0] = 0.5
    assert buckets.take("a") == 0.0
    assert buckets.take("a") > 0


def _too_many(response: Any) -> None:
    assert response.status_code == 429, response.text
    body = response.json()
    assert body["code"] == "too_many_requests" and body["message"]
    assert int(response.headers["retry-after"]) >= 1
    assert body["retryAfter"] == int(response.headers["retry-after"])


def test_rate_limit_per_address(make_client: Any) -> None:
    client = make_client(rate_limit_address=1, rate_burst_address=3)
    assert [client.get("/v1.1/Things").status_code for _ in range(3)] == [200] * 3
    _too_many(client.get("/v1.1/Things"))
    _too_many(client.get("/api/rules"))  # every route counts


def test_rate_limit_per_key_apart_from_address(make_client: Any) -> None:
    client = make_client(rate_limit_key=1, rate_burst_key=2)
    one, two = (issue_key(client.app, client.portal, "viewer") for _ in range(2))
    first, second = {"X-API-Key": one}, {"Authorization": f"Bearer {two}"}
    assert [client.get("/v1.1/Things", headers=first).status_code for _ in range(2)] == [200, 200]
    _too_many(client.get("/v1.1/Things", headers=first))
    _too_many(client.get("/v1.1/Things", headers={"Authorization": f"Bearer {one}"}))
    assert client.get("/v1.1/Things", headers=second).status_code == 200
    anonymous = AnonymousClient(client.app)
    assert anonymous.get("/v1.1/Things").status_code == 200  # no key: no key limit


def test_rate_limit_per_principal_whatever_proved_it(make_client: Any) -> None:
    client = make_client(rate_limit_principal=1, rate_burst_principal=2)
    one, two = (issue_key(client.app, client.portal, "viewer") for _ in range(2))
    basic = base64.b64encode(f"user:{one}".encode()).decode()
    assert client.get("/v1.1/Things", headers={"X-API-Key": one}).status_code == 200
    # The same principal by Basic auth (which the key limit cannot see) shares its bucket.
    assert client.get("/v1.1/Things", headers={"Authorization": f"Basic {basic}"}).status_code == 200
    _too_many(client.get("/api/rules", headers={"Authorization": f"Bearer {one}"}))
    assert client.get("/v1.1/Things", headers={"X-API-Key": two}).status_code == 200
    anonymous = AnonymousClient(client.app)
    assert [anonymous.get("/v1.1/Things").status_code for _ in range(3)] == [200] * 3
    # A key the gate refuses is a 401, and takes nothing from anyone's bucket.
    assert client.get("/v1.1/Things", headers={"X-API-Key": "qk_made_up"}).status_code == 401
    assert client.get("/v1.1/Things", headers={"X-API-Key": two}).status_code == 200
    _too_many(client.get("/v1.1/Things", headers={"X-API-Key": two}))


def test_ingest_paths_are_exempt_by_default(make_client: Any) -> None:
    client = make_client(rate_limit_address=1, rate_burst_address=1)
    assert client.get("/v1.1/Things").status_code == 200
    _too_many(client.get("/v1.1/Things"))
    for _ in range(5):  # 400s (empty bodies), but never 429
        assert client.post("/v1.1/CreateObservations", json=[]).status_code != 429
        assert client.post("/t/default/api/lorawan/net/uplink", json={}).status_code != 429


def test_ingest_paths_have_their_own_limit(make_client: Any) -> None:
    client = make_client(rate_limit_address=1, rate_burst_address=1, rate_limit_ingest=1,
                         rate_burst_ingest=3)
    statuses = [client.post("/api/lorawan/net/uplink", json={}).status_code for _ in range(3)]
    assert 429 not in statuses
    _too_many(client.post("/api/lorawan/net/uplink", json={}))
    assert client.get("/v1.1/Things").status_code == 200  # the address's own bucket is full


def test_security_headers_by_default(make_client: Any) -> None:
    client = make_client(map_tiles="https://{s}.tile.example.org/{z}/{x}/{y}.png")
    for path in ("/", "/v1.1/Things", "/v1.1/Nothing", "/static/app.js"):
        headers = client.get(path).headers
        csp = headers["content-security-policy"]
        assert "script-src 'self'" in csp and "style-src 'self'" in csp
        assert "unsafe-inline" not in csp
        assert "img-src 'self' data: https://*.tile.example.org" in csp
        assert "frame-ancestors 'none'" in csp
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"
        assert headers["referrer-policy"] == "strict-origin-when-cross-origin"
        assert "strict-transport-security" not in headers


def test_security_headers_as_set(make_client: Any) -> None:
    client = make_client(hsts_seconds=31536000, frame_ancestors="https://www.example.de",
                         referrer_policy="no-referrer")
    headers = client.get("/v1.1").headers
    assert headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"
    assert "frame-ancestors https://www.example.de" in headers["content-security-policy"]
    assert "x-frame-options" not in headers
    assert headers["referrer-policy"] == "no-referrer"
    off = make_client(security_headers=0, content_security_policy="default-src 'none'")
    assert "content-security-policy" not in off.get("/v1.1").headers
    own = make_client(content_security_policy="default-src 'none'")
    assert own.get("/v1.1").headers["content-security-policy"] == "default-src 'none'"


def test_no_cors_by_default(make_client: Any) -> None:
    client = make_client()
    response = client.get("/v1.1/Things", headers={"Origin": "https://app.example.de"})
    assert "access-control-allow-origin" not in response.headers


def test_cors_for_allowed_origins(make_client: Any) -> None:
    client = make_client(cors_origins="https://app.example.de", cors_methods="GET POST")
    response = client.get("/v1.1/Things", headers={"Origin": "https://app.example.de"})
    assert response.headers["access-control-allow-origin"] == "https://app.example.de"
    preflight = client.options("/v1.1/Things", headers={
        "Origin": "https://app.example.de", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type, x-api-key"})
    assert preflight.status_code == 200
    assert "POST" in preflight.headers["access-control-allow-methods"]
    refused = client.options("/v1.1/Things", headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "DELETE"})
    assert refused.status_code == 400
    other = client.get("/v1.1/Things", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers


@pytest.mark.parametrize("values", [
    {"cors_origins": "https://a.example/path"}, {"cors_origins": "*", "cors_credentials": "1"},
    {"rate_limit_address": "-1"}, {"rate_limit_principal": "-1"}, {"rate_burst_principal": "0"},
    {"request_timeout": "-1"}, {"security_headers": "2"},
    {"max_filter_nodes": "0"}, {"referrer_policy": "a\nb"},
])
def test_bad_protection_settings_are_refused(values: dict[str, str]) -> None:
    from quartier.errors import SettingsError

    with pytest.raises(SettingsError):
        Settings.validated(values)
