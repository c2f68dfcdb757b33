"""What the ``quartier key`` and ``quartier user`` commands do, on an opened store; audited
as the local user."""

from __future__ import annotations

import getpass
import uuid

from quartier.auth.keys import KeyBook, KeyRequest, expiry
from quartier.auth.roles import Role
from quartier.auth.users import UserBook, UserChange
from quartier.errors import NotFound
from quartier.store import Store
from quartier.store.audit import AuditTrail


async def _tenant(store: Store, name: str) -> int:
    tenant_id = await store.tenant_id(name)
    if tenant_id is None:
        raise NotFound(f"no tenant {name!r}")
    return tenant_id


def _trail(tenant_id: int, action: str, target: str) -> AuditTrail:
    user = getpass.getuser()
    return AuditTrail(tenant_id, uuid.uuid4().hex, f"cli:{user}", user, "admin", action, target,
                      "local command line")


async def create_key(store: Store, tenant: str, role: str | None, name: str, expires: str | None,
                     scopes: tuple[str, ...], thing: int | None = None) -> str:
    """Make a key (with ``thing``: a device credential of that Thing); the text to print:
    the key, once, and how to use it."""
    tenant_id = await _tenant(store, tenant)
    wanted = (KeyRequest.for_device(name, thing, expiry(expires)) if thing is not None
              else KeyRequest(name, Role.parse(role), scopes or ("*",), expiry(expires)))
    key, described = await KeyBook(store).create(
        tenant_id, wanted, f"cli:{getpass.getuser()}", _trail(tenant_id, "keys.create", "cli:key"))
    until = described["expires_at"].isoformat() if described["expires_at"] else "never"
    what = f"device credential of Thing {thing}" if thing is not None else f"role {role}"
    return (f"{key}\n\nAPI key {described['id']} ({described['prefix']}) of tenant {tenant}, "
            f"{what}, expires {until}. It is shown only now; send it as "
            "'Authorization: Bearer <key>' or 'X-API-Key: <key>'.")


async def list_keys(store: Store, tenant: str) -> list[str]:
    tenant_id = await _tenant(store, tenant)
    lines = []
    for k in await KeyBook(store).listing(tenant_id):
        state = ("revoked" if k["revoked_at"] else
                 f"expires {k['expires_at'].isoformat()}" if k["expires_at"] else "no expiry")
        role = k["role"] if k["thing_id"] is None else f"device:{k['thing_id']}"
        lines.append(f"{k['id']}\t{k['prefix']}\t{role}\t{k['name']}\t{state}")
    return lines


async def revoke_key(store: Store, tenant: str, key_id: int) -> str:
    tenant_id = await _tenant(store, tenant)
    described = await KeyBook(store).revoke(
        tenant_id, key_id, _trail(tenant_id, "keys.revoke", f"cli:key/{key_id}"))
    return f"revoked API key {described['id']} ({described['prefix']}, {described['name']})"


async def create_user(store: Store, tenant: str, name: str, role: str, password: str) -> str:
    tenant_id = await _tenant(store, tenant)
    made = await UserBook(store).create(tenant_id, name, Role.parse(role), password,
                                        f"cli:{getpass.getuser()}",
                                        _trail(tenant_id, "users.create", "cli:user"))
    return f"created user {made['name']} of tenant {tenant}, role {made['role']}: it logs in at /login"


async def list_users(store: Store, tenant: str) -> list[str]:
    tenant_id = await _tenant(store, tenant)
    return [f"{u['name']}\t{u['role']}\t"
            + (f"disabled {u['disabled_at'].isoformat()}" if u["disabled_at"] else "active")
            for u in await UserBook(store).listing(tenant_id)]


async def change_user(store: Store, tenant: str, name: str, change: UserChange) -> str:
    tenant_id = await _tenant(store, tenant)
    changed = await UserBook(store).change(tenant_id, name, change,
                                           _trail(tenant_id, "users.update", f"cli:user/{name}"))
    what = "disabled" if change.disabled else "gave a new password to"
    return f"{what} user {changed['name']} of tenant {tenant}; its sessions have ended"
