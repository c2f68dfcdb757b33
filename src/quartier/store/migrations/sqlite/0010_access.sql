-- Access: API keys per tenant, the audit log, and the visibility of Things and
-- Datastreams (public: anyone may read them; internal: only the tenant's principals).

CREATE TABLE api_keys (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id bigint NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name text NOT NULL,
    role text NOT NULL CHECK (role IN ('viewer', 'operator', 'editor', 'admin')),
    scopes text NOT NULL,            -- a JSON list of the API areas the key may use
    prefix text NOT NULL UNIQUE,     -- the key's first characters, to find and name it
    key_hash text NOT NULL,          -- SHA-256 of the whole key, hex; the key itself is not kept
    created_at text NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    created_by text NOT NULL,
    expires_at text,          -- NULL: never
    revoked_at text
);
CREATE INDEX api_keys_tenant ON api_keys (tenant_id, id);

-- Written in the transaction of the write it records; no API changes or deletes a row.
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id bigint NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    at text NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    request_id text NOT NULL,
    principal text NOT NULL,         -- who: e.g. key:qk_3f9a1c2b (the key's prefix)
    principal_name text NOT NULL,    -- the key's name
    role text NOT NULL,
    action text NOT NULL,            -- e.g. create, update, delete, key.create
    target text NOT NULL,            -- the request path
    detail text NOT NULL,            -- a JSON object (text, so that merged writes stay plain)
    address text NOT NULL            -- the client's address
);
CREATE INDEX audit_log_at ON audit_log (tenant_id, at, id);

ALTER TABLE things ADD COLUMN visibility text NOT NULL DEFAULT 'public'
    CHECK (visibility IN ('public', 'internal'));
ALTER TABLE datastreams ADD COLUMN visibility text NOT NULL DEFAULT 'public'
    CHECK (visibility IN ('public', 'internal'));
