"""Dashboard login: user accounts, server-side sessions and their cookie, lock-outs, CSRF
protection of cookie-authenticated writes, and the audit log, on both storage backends."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from conftest import AnonymousClient, TestClient, create_tenant, make_app, thing_body
from quartier.auth.roles import Role
from quartier.auth.users import UserBook, UserChange
from quartier.settings import Settings
from quartier.store import open_store

PASSWORD = "correct horse battery"
BACKENDS = pytest.mark.parametrize("backend", ["sqlite", "postgresql"])


class Clock:
    """The sessions' clock, turned by hand."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def turn(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclasses.dataclass
class Platform:
    app: Any
    admin: TestClient  # with an admin API key
    clock: Clock

    def browser(self, base_url: str = "http://testserver") -> AnonymousClient:
        """A client with no key: what a browser with a cookie jar sends."""
        client = AnonymousClient(self.app, base_url=base_url, raise_server_exceptions=False)
        client.portal = self.admin.portal  # the app already runs in the admin client's loop
        return client

    def user(self, name: str, role: str, tenant: str = "") -> None:
        response = self.admin.post(f"{tenant}/api/users",
                                   json={"name": name, "role": role, "password": PASSWORD})
        assert response.status_code == 201, response.text

    def logged_in(self, name: str, role: str = "editor") -> tuple[AnonymousClient, str]:
        """A browser logged in as a new user ``name``, and its CSRF token."""
        self.user(name, role)
        browser = self.browser()
        response = browser.post("/api/session", json={"name": name, "password": PASSWORD})
        assert response.status_code == 200, response.text
        return browser, response.json()["csrfToken"]

    def things(self) -> int:
        return len(self.admin.get("/v1.1/Things").json()["value"])


@pytest.fixture
def platform(settings: Settings) -> Iterator[Platform]:
    settings = dataclasses.replace(settings, login_max_failures=3, session_idle_minutes=30,
                                   session_max_hours=1)
    create_tenant(settings, "nord")
    app = make_app(settings)
    clock = Clock()
    app.state.sessions.clock = clock
    with TestClient(app, raise_server_exceptions=False) as admin:
        yield Platform(app, admin, clock)


def _error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) >= {"code", "message"}
    return dict(body)


# -- logging in ---------------------------------------------------------------------------


@BACKENDS
def test_a_login_gives_a_strict_http_only_cookie_and_says_who(platform: Platform) -> None:
    platform.user("weber", "operator")
    browser = platform.browser()
    assert browser.get("/api/session").json()["user"] is None
    response = browser.post("/api/session", json={"name": "weber", "password": PASSWORD})
    assert response.status_code == 200, response.text
    cookie = response.headers["set-cookie"]
    attributes = {part.strip().split("=")[0].lower(): part.strip() for part in cookie.split(";")}
    assert "quartier_session" in attributes
    assert "httponly" in attributes and "secure" not in attributes
    assert attributes["samesite"].lower() == "samesite=strict"
    assert attributes["path"] == "Path=/"
    assert PASSWORD not in response.text
    me = browser.get("/api/session").json()
    assert (me["user"], me["role"], me["principal"], me["source"]) == ("weber", "operator",
                                                                       "user:weber", "session")
    assert me["csrfToken"] == response.json()["csrfToken"]


@BACKENDS
def test_the_cookie_is_secure_over_https(platform: Platform) -> None:
    platform.user("weber", "viewer")
    browser = platform.browser("https://testserver")
    response = browser.post("/api/session", json={"name": "weber", "password": PASSWORD})
    assert response.status_code == 200, response.text
    assert "secure" in response.headers["set-cookie"].lower()


@BACKENDS
def test_a_wrong_password_or_name_gives_401_and_no_cookie(platform: Platform) -> None:
    platform.user("weber", "viewer")
    browser = platform.browser()
    wrong = browser.post("/api/session", json={"name": "weber", "password": "not the password"})
    unknown = browser.post("/api/session", json={"name": "nobody", "password": PASSWORD})
    for response in (wrong, unknown):
        assert _error(response, 401)["message"] == "the user name or the password is wrong"
        assert "set-cookie" not in response.headers
    assert browser.get("/api/session").json()["user"] is None
    _error(browser.post("/api/session", json={"name": "weber"}), 400)
    _error(browser.post("/api/session", content=b"name=weber", headers={"Content-Type": "text/plain"}), 415)


@BACKENDS
def test_failed_logins_lock_the_account_and_the_address_out_for_a_while(platform: Platform) -> None:
    platform.user("weber", "viewer")
    platform.user("schulz", "viewer")
    browser = platform.browser()
    for _ in range(3):
        _error(browser.post("/api/session", json={"name": "weber", "password": "guess guess"}), 401)
    # Locked: even the right password is not tried, and the address is locked for others too.
    locked = _error(browser.post("/api/session", json={"name": "weber", "password": PASSWORD}), 429)
    assert "too many failed logins" in locked["message"]
    assert 0 < locked["retryAfter"] <= 15 * 60
    _error(browser.post("/api/session", json={"name": "schulz", "password": PASSWORD}), 429)
    platform.clock.turn(minutes=16)
    assert browser.post("/api/session", json={"name": "weber", "password": PASSWORD}).status_code == 200


@BACKENDS
def test_a_disabled_account_cannot_log_in_and_its_sessions_end(platform: Platform) -> None:
    browser, _ = platform.logged_in("weber")
    assert browser.get("/api/session").json()["user"] == "weber"
    changed = platform.admin.patch("/api/users/weber", json={"disabled": True})
    assert changed.status_code == 200 and changed.json()["disabled"] is not None
    assert browser.get("/api/session").json()["user"] is None
    refused = browser.post("/api/session", json={"name": "weber", "password": PASSWORD})
    assert "disabled" in _error(refused, 403)["message"]
    assert platform.admin.patch("/api/users/weber", json={"disabled": False}).json()["disabled"] is None
    assert browser.post("/api/session", json={"name": "weber", "password": PASSWORD}).status_code == 200


@BACKENDS
def test_each_login_makes_a_new_session_id(platform: Platform) -> None:
    browser, first_token = platform.logged_in("weber")
    first = browser.cookies["quartier_session"]
    again = browser.post("/api/session", json={"name": "weber", "password": PASSWORD})
    assert again.status_code == 200
    second = browser.cookies["quartier_session"]
    assert second != first and again.json()["csrfToken"] != first_token
    stale = platform.browser()
    stale.cookies.set("quartier_session", first)
    assert stale.get("/api/session").json()["user"] is None


# -- how long a session lasts -------------------------------------------------------------


@BACKENDS
def test_a_session_ends_after_idle_minutes(platform: Platform) -> None:
    browser, _ = platform.logged_in("weber")
    platform.clock.turn(minutes=29)
    assert browser.get("/api/session").json()["user"] == "weber"  # and noted as seen
    platform.clock.turn(minutes=29)
    assert browser.get("/api/session").json()["user"] == "weber"
    platform.clock.turn(minutes=31)
    assert browser.get("/api/session").json()["user"] is None
    assert browser.post("/v1.1/Things", json=thing_body()).status_code == 401


@BACKENDS
def test_a_busy_session_ends_at_its_absolute_end(platform: Platform) -> None:
    browser, _ = platform.logged_in("weber")
    for _ in range(3):
        platform.clock.turn(minutes=19)
        assert browser.get("/api/session").json()["user"] == "weber"
    platform.clock.turn(minutes=4)  # 61 minutes after the login; the setting is one hour
    assert browser.get("/api/session").json()["user"] is None


@BACKENDS
def test_logout_ends_the_session(platform: Platform) -> None:
    browser, token = platform.logged_in("weber")
    cookie = browser.cookies["quartier_session"]
    _error(browser.delete("/api/session"), 403)  # a write: it needs the token too
    response = browser.delete("/api/session", headers={"X-CSRF-Token": token})
    assert response.status_code == 200, response.text
    assert "quartier_session=" in response.headers["set-cookie"]
    assert browser.get("/api/session").json()["user"] is None
    replayed = platform.browser()
    replayed.cookies.set("quartier_session", cookie)
    assert replayed.get("/api/session").json()["user"] is None
    _error(replayed.post("/v1.1/Things", json=thing_body(), headers={"X-CSRF-Token": token}), 401)


# -- CSRF ---------------------------------------------------------------------------------


@BACKENDS
def test_a_cookie_write_needs_the_sessions_csrf_token(platform: Platform) -> None:
    browser, token = platform.logged_in("weber")
    _, other_token = platform.logged_in("schulz")
    before = platform.things()
    missing = _error(browser.post("/v1.1/Things", json=thing_body()), 403)
    assert "X-CSRF-Token" in missing["message"]
    _error(browser.post("/v1.1/Things", json=thing_body(), headers={"X-CSRF-Token": "0" * 64}), 403)
    _error(browser.post("/v1.1/Things", json=thing_body(), headers={"X-CSRF-Token": other_token}), 403)
    assert platform.things() == before
    made = browser.post("/v1.1/Things", json=thing_body("Made by Weber"), headers={"X-CSRF-Token": token})
    assert made.status_code == 201, made.text
    assert platform.things() == before + 1
    rows = platform.admin.get("/api/audit", params={"action": "sensorthings.create"}).json()["value"]
    assert [(r["principal"], r["principal_name"]) for r in rows] == [("user:weber", "weber")]


@BACKENDS
def test_a_cookie_write_from_another_site_is_refused(platform: Platform) -> None:
    browser, token = platform.logged_in("weber")
    before = platform.things()
    for headers in ({"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"},
                    {"Origin": "http://testserver.evil.example"}):
        refused = browser.post("/v1.1/Things", json=thing_body(),
                               headers={"X-CSRF-Token": token, **headers})
        assert "another site" in _error(refused, 403)["message"] or "cross-site" in refused.text
    assert platform.things() == before
    same = browser.post("/v1.1/Things", json=thing_body(),
                        headers={"X-CSRF-Token": token, "Origin": "http://testserver",
                                 "Sec-Fetch-Site": "same-origin"})
    assert same.status_code == 201, same.text
    # Nor may another site's page log a browser in.
    login = platform.browser().post("/api/session", json={"name": "weber", "password": PASSWORD},
                                    headers={"Origin": "https://evil.example"})
    _error(login, 403)


@BACKENDS
def test_an_api_key_needs_no_csrf_token_even_beside_a_cookie(platform: Platform) -> None:
    browser, _ = platform.logged_in("weber", "viewer")
    response = browser.post("/v1.1/Things", json=thing_body(),
                            headers={"Authorization": f"Bearer {platform.admin.key}"})
    assert response.status_code == 201, response.text


# -- roles and tenants --------------------------------------------------------------------


@BACKENDS
def test_a_session_has_its_users_role(platform: Platform) -> None:
    browser, token = platform.logged_in("weber", "operator")
    csrf = {"X-CSRF-Token": token}
    refused = _error(browser.post("/v1.1/Things", json=thing_body(), headers=csrf), 403)
    assert "editor" in refused["message"]
    # An operator may acknowledge: the gate lets it pass to the route (no such alert here).
    _error(browser.post("/api/alerts/999/acknowledge", json={"by": "M. Weber"}, headers=csrf), 404)
    _error(browser.get("/api/users"), 403)
    _error(browser.post("/api/users", json={"name": "x", "role": "admin", "password": PASSWORD},
                        headers=csrf), 403)
    # A new role counts at once.
    assert platform.admin.patch("/api/users/weber", json={"role": "editor"}).status_code == 200
    assert browser.post("/v1.1/Things", json=thing_body(), headers=csrf).status_code == 201


@BACKENDS
def test_a_session_of_one_tenant_gives_nothing_on_another(platform: Platform) -> None:
    browser, token = platform.logged_in("weber", "admin")
    me = browser.get("/t/nord/api/session").json()
    assert me["user"] is None and me["role"] is None
    refused = browser.post("/t/nord/v1.1/Things", json=thing_body(), headers={"X-CSRF-Token": token})
    _error(refused, 401)
    _error(browser.get("/t/nord/api/users"), 401)
    assert platform.admin.get("/t/nord/v1.1/Things").json()["value"] == []
    # The same name in the other tenant is another account.
    _error(browser.post("/t/nord/api/session", json={"name": "weber", "password": PASSWORD}), 401)


# -- the users API ------------------------------------------------------------------------


@BACKENDS
def test_admins_manage_users_and_the_audit_log_names_them(platform: Platform) -> None:
    platform.user("chef", "admin")
    browser = platform.browser()
    token = browser.post("/api/session", json={"name": "chef", "password": PASSWORD}).json()["csrfToken"]
    csrf = {"X-CSRF-Token": token}
    made = browser.post("/api/users", json={"name": "weber", "role": "viewer", "password": PASSWORD},
                        headers=csrf)
    assert made.status_code == 201, made.text
    assert made.json() == {"name": "weber", "role": "viewer", "created": made.json()["created"],
                           "createdBy": "user:chef", "disabled": None}
    _error(browser.post("/api/users", json={"name": "weber", "role": "viewer", "password": PASSWORD},
                        headers=csrf), 409)
    for bad in ({"name": "weber2", "role": "king", "password": PASSWORD},
                {"name": "weber2", "role": "viewer", "password": "short"},
                {"name": "we ber", "role": "viewer", "password": PASSWORD},
                {"name": "weber2", "role": "viewer"},
                {"name": "weber2", "role": "viewer", "password": PASSWORD, "admin": True}):
        _error(browser.post("/api/users", json=bad, headers=csrf), 400)
    _error(browser.patch("/api/users/weber", json={}, headers=csrf), 400)
    _error(browser.patch("/api/users/nobody", json={"role": "editor"}, headers=csrf), 404)
    changed = browser.patch("/api/users/weber", json={"role": "operator"}, headers=csrf)
    assert changed.json()["role"] == "operator"
    listing = browser.get("/api/users").json()["value"]
    assert [u["name"] for u in listing] == ["chef", "weber"]
    assert all("password" not in str(u).lower() and "argon" not in str(u) for u in listing)
    rows = platform.admin.get("/api/audit").json()["value"]
    by_chef = [(r["action"], r["target"]) for r in rows if r["principal"] == "user:chef"]
    assert ("users.create", "/api/users/weber") in by_chef
    assert ("users.update", "/api/users/weber") in by_chef
    assert ("session.create", "/api/session") in by_chef
    assert all(PASSWORD not in str(r["detail"]) for r in rows)


@BACKENDS
def test_the_last_enabled_admin_can_be_neither_demoted_nor_disabled(platform: Platform) -> None:
    platform.user("chef", "admin")
    platform.user("weber", "editor")
    for change in ({"role": "editor"}, {"disabled": True}, {"role": "viewer", "disabled": True}):
        error = _error(platform.admin.patch("/api/users/chef", json=change), 409)
        assert "last enabled admin" in error["message"]
    assert platform.admin.get("/api/users/chef").json()["role"] == "admin"
    assert platform.admin.get("/api/users/chef").json()["disabled"] is None
    # Other changes of the last admin, and changes of other accounts, go through.
    assert platform.admin.patch("/api/users/chef", json={"role": "admin"}).status_code == 200
    assert platform.admin.patch("/api/users/weber", json={"disabled": True}).status_code == 200
    # With a second enabled admin, either may go; then the other is the last one.
    assert platform.admin.patch("/api/users/weber", json={"role": "admin", "disabled": False}
                                ).status_code == 200
    assert platform.admin.patch("/api/users/chef", json={"role": "operator"}).status_code == 200
    _error(platform.admin.patch("/api/users/weber", json={"disabled": True}), 409)
    # The rule is per tenant: another tenant's admins do not count.
    platform.user("nordchef", "admin", tenant="/t/nord")
    _error(platform.admin.patch("/t/nord/api/users/nordchef", json={"role": "viewer"}), 409)
    assert platform.admin.get("/api/users/weber").json()["role"] == "admin"


@pytest.mark.parametrize("backend", ["postgresql"])
def test_two_admins_demoting_each_other_at_once_leave_one_admin(settings: Settings) -> None:
    """Each demotion alone is allowed; run together, the second waits for the first and
    then finds itself demoting the last admin."""

    async def scenario() -> list[object]:
        store = open_store(settings)
        await store.open()
        try:
            tenant = await store.tenant_id("default")
            assert tenant is not None
            users = UserBook(store)
            for name in ("chef", "vize"):
                await users.create(tenant, name, Role.ADMIN, PASSWORD, "test")
            outcomes = await asyncio.gather(
                users.change(tenant, "chef", UserChange(role=Role.EDITOR)),
                users.change(tenant, "vize", UserChange(disabled=True)),
                return_exceptions=True)
            left = [u["name"] for u in await users.listing(tenant)
                    if u["role"] == "admin" and u["disabled_at"] is None]
            assert len(left) == 1
            return outcomes
        finally:
            await store.close()

    outcomes = asyncio.run(scenario())
    assert sorted(type(o).__name__ for o in outcomes) == ["Conflict", "dict"]


@BACKENDS
def test_a_new_password_ends_the_sessions_and_replaces_the_old_one(platform: Platform) -> None:
    browser, _ = platform.logged_in("weber")
    new = "another long secret"
    assert platform.admin.patch("/api/users/weber", json={"password": new}).status_code == 200
    assert browser.get("/api/session").json()["user"] is None
    _error(browser.post("/api/session", json={"name": "weber", "password": PASSWORD}), 401)
    assert browser.post("/api/session", json={"name": "weber", "password": new}).status_code == 200
