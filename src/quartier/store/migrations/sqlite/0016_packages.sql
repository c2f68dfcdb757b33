-- Use-case packages installed in a tenant (the file as imported, for the listing and as
-- the base of an export), and the dashboard views a tenant shows (no row: every view).
CREATE TABLE packages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id bigint NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name text NOT NULL,
    version text NOT NULL,
    definition text NOT NULL,
    installed_at text NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    UNIQUE (tenant_id, name)
);

CREATE TABLE dashboard_views (
    tenant_id bigint PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    views text NOT NULL
);
