-- Dashboard login: local user accounts per tenant, their server-side sessions, and the
-- failed logins that lock an account or an address out for a while.

CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id bigint NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name text NOT NULL,
    role text NOT NULL CHECK (role IN ('viewer', 'operator', 'editor', 'admin')),
    password_hash text NOT NULL,     -- argon2id; the password itself is never kept
    created_at text NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    created_by text NOT NULL,
    disabled_at text,         -- NULL: may log in
    UNIQUE (tenant_id, name)
);

CREATE TABLE sessions (
    id_hash text PRIMARY KEY,        -- SHA-256 of the session id in the cookie, hex
    tenant_id bigint NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at text NOT NULL,
    last_seen_at text NOT NULL,
    expires_at text NOT NULL  -- the absolute end, however busy the session is
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE login_failures (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id bigint NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name text NOT NULL,              -- the account name tried (it need not exist)
    address text NOT NULL,           -- the client's address
    at text NOT NULL
);
CREATE INDEX login_failures_name ON login_failures (tenant_id, name, at);
CREATE INDEX login_failures_address ON login_failures (address, at);
