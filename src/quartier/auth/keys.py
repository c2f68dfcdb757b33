"""API keys: made per tenant with a role, scopes and an expiry; kept only as a hash.

A key is ``qk_`` + 8 characters that name it (its prefix, kept in clear to find and
show it) + ``_`` + 43 random characters: 256 random bits in all, so one SHA-256 of the
whole key is enough to keep it (no slow password hash is needed against guessing), and
it is compared in constant time. The key itself is shown once, when it is made.

A key made for a device (a Thing) is a device credential: it may only add Observations
to that Thing's Datastreams (:mod:`quartier.auth.devices`), whatever its stored role.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from quartier.auth.access import AREAS
from quartier.auth.principal import ALL_AREAS, Principal
from quartier.auth.roles import Role
from quartier.errors import BadRequest, NotFound, Unauthorized
from quartier.model.times import now_utc
from quartier.model.values import TIME
from quartier.store import Store
from quartier.store.audit import AuditTrail

_KEY = re.compile(r"(qk_[0-9a-z]{8})_[A-Za-z0-9_-]{43}")
_NAMES = ("id", "tenant_id", "name", "role", "scopes", "prefix", "key_hash", "created_at",
          "created_by", "expires_at", "revoked_at", "thing_id")
_COLUMNS = ", ".join(_NAMES)
CACHE_SECONDS = 2.0  # how long a worker trusts a key it has looked up (revocation's delay)
_CACHE_LIMIT = 10_000


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode("ascii")).hexdigest()


def new_key() -> tuple[str, str]:
    """A fresh key and its prefix."""
    prefix = "qk_" + "".join(secrets.choice("0123456789abcdefghijklmnopqrstuvwxyz") for _ in range(8))
    return f"{prefix}_{secrets.token_urlsafe(32)}", prefix


@dataclass(frozen=True)
class KeyRequest:
    """What a new key is to be: checked before anything is written."""

    name: str
    role: Role
    scopes: tuple[str, ...] = (ALL_AREAS,)
    expires_at: datetime | None = None
    device: int | None = None  # the Thing of a device credential

    @classmethod
    def for_device(cls, name: Any, thing: object, expires_at: datetime | None = None) -> KeyRequest:
        """A device credential of Thing ``thing``: it may add Observations there, no more."""
        if isinstance(thing, bool) or not isinstance(thing, int) or not 0 < thing < 2**63:
            raise BadRequest(f"device must be the @iot.id of a Thing, not {thing!r}")
        return cls(name, Role.EDITOR, ("sensorthings",), expires_at, thing)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not 0 < len(self.name) <= 100:
            raise BadRequest("a key's name must be text of 1 to 100 characters")
        unknown = [s for s in self.scopes if s != ALL_AREAS and s not in AREAS]
        if unknown or not self.scopes:
            raise BadRequest(f"scopes must be '*' or API areas of {', '.join(AREAS)}",
                             unknown=unknown)
        if self.expires_at is not None and self.expires_at <= now_utc():
            raise BadRequest("expires must lie in the future")


class KeyBook:
    """The API keys of every tenant, in the store."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._cache: dict[str, tuple[float, dict[str, Any]]] = {}  # by hash

    async def create(
        self, tenant_id: int, request: KeyRequest, created_by: str, trail: AuditTrail | None = None
    ) -> tuple[str, dict[str, Any]]:
        """Make a key; returns it (to be shown once) and its stored description. With
        ``trail``, the audit row is written in the same transaction."""
        key, prefix = new_key()
        dialect = self.store.dialect
        async with self.store.transaction() as conn:
            if request.device is not None and await conn.fetchval(
                    "SELECT 1 FROM things WHERE id = ? AND tenant_id = ?",
                    (request.device, tenant_id)) is None:
                raise BadRequest(f"device: no Thing with @iot.id {request.device}")
            row = await conn.fetchrow(
                "INSERT INTO api_keys (tenant_id, name, role, scopes, prefix, key_hash, created_at, "
                f"created_by, expires_at, thing_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                f"RETURNING {_COLUMNS}",
                (tenant_id, request.name, request.role.label, orjson.dumps(list(request.scopes)).decode(),
                 prefix, _hash(key), dialect.encode(TIME, now_utc()), created_by,
                 dialect.encode(TIME, request.expires_at), request.device),
            )
            assert row is not None
            described = self._describe(row)
            if trail is not None:
                trail.target = f"{trail.target}/{described['id']}"
                await trail.write(conn, dialect, key=public(described))
        return key, described

    async def listing(self, tenant_id: int) -> list[dict[str, Any]]:
        async with self.store.reader() as conn:
            rows = await conn.fetch(f"SELECT {_COLUMNS} FROM api_keys WHERE tenant_id = ? ORDER BY id",
                                    (tenant_id,))
        return [self._describe(r) for r in rows]

    async def revoke(self, tenant_id: int, key_id: int, trail: AuditTrail | None = None) -> dict[str, Any]:
        """Revoke a key at once (other workers within :data:`CACHE_SECONDS`); 404 for a key
        the tenant does not have. Revoking twice keeps the first time."""
        dialect = self.store.dialect
        async with self.store.transaction() as conn:
            await conn.execute(
                "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND tenant_id = ? AND revoked_at IS NULL",
                (dialect.encode(TIME, now_utc()), key_id, tenant_id))
            row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM api_keys WHERE id = ? AND tenant_id = ?",
                                      (key_id, tenant_id))
            if row is None:
                raise NotFound(f"no API key {key_id}")
            described = self._describe(row)
            if trail is not None:
                await trail.write(conn, dialect, key=public(described))
        self._cache = {h: v for h, v in self._cache.items() if v[1]["id"] != key_id}
        return described

    async def principal(self, key: str, tenant_id: int) -> Principal:
        """The principal a presented key stands for in ``tenant_id``; 401 for a key that is
        malformed, unknown, expired, revoked or another tenant's (never naming the key)."""
        found = _KEY.fullmatch(key)
        if found is None:
            raise Unauthorized("the API key is malformed")
        digest = _hash(key)
        row = await self._lookup(found.group(1), digest)
        if row is None or not hmac.compare_digest(row["key_hash"], digest):
            raise Unauthorized("the API key is not known")
        if row["revoked_at"] is not None:
            raise Unauthorized("the API key was revoked")
        if row["expires_at"] is not None and row["expires_at"] <= now_utc():
            raise Unauthorized("the API key has expired")
        if row["tenant_id"] != tenant_id:
            raise Unauthorized("the API key is not valid for this tenant")
        if row["thing_id"] is not None:
            return Principal(row["tenant_id"], Role.EDITOR, f"device:{row['prefix']}", row["name"],
                             "device", frozenset({"sensorthings"}), device=row["thing_id"])
        return Principal(row["tenant_id"], Role.parse(row["role"]), f"key:{row['prefix']}",
                         row["name"], "api-key", frozenset(row["scopes"]))

    async def _lookup(self, prefix: str, digest: str) -> dict[str, Any] | None:
        now = time.monotonic()
        cached = self._cache.get(digest)
        if cached is not None and now - cached[0] < CACHE_SECONDS:
            return cached[1]
        async with self.store.reader() as conn:
            row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM api_keys WHERE prefix = ?", (prefix,))
        if row is None:
            return None
        described = self._describe(row)
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[digest] = (now, described)
        return described

    def _describe(self, row: Sequence[Any]) -> dict[str, Any]:
        out = dict(zip(_NAMES, row, strict=True))
        decode = self.store.dialect.decode
        for name in ("created_at", "expires_at", "revoked_at"):
            out[name] = decode(TIME, out[name])
        out["scopes"] = orjson.loads(out["scopes"])
        out["id"] = int(out["id"])
        out["tenant_id"] = int(out["tenant_id"])
        out["thing_id"] = None if out["thing_id"] is None else int(out["thing_id"])
        return out


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def public(described: dict[str, Any]) -> dict[str, Any]:
    """A key as the API shows it: never its hash."""
    return {
        "id": described["id"], "name": described["name"], "role": described["role"],
        "scopes": described["scopes"], "prefix": described["prefix"],
        "created": _time(described["created_at"]), "createdBy": described["created_by"],
        "expires": _time(described["expires_at"]), "revoked": _time(described["revoked_at"]),
        "device": described["thing_id"],
    }


def expiry(text: object) -> datetime | None:
    """When a key given ``expires`` runs out: an ISO 8601 duration from now (``P90D``,
    ``PT12H``; months count 30 days) or a time with an offset; None for none."""
    from datetime import timedelta

    from quartier.model.times import parse_instant
    from quartier.query.expr import parse_duration

    if text is None or text == "":
        return None
    if isinstance(text, str) and text.startswith("P"):
        try:
            duration = parse_duration(text)
        except ValueError as exc:
            raise BadRequest(f"expires: {exc}") from None
        return now_utc() + timedelta(days=30 * duration.months, microseconds=duration.micros)
    return parse_instant(text, "expires")
