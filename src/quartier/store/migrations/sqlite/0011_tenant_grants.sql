-- Sharing between tenants: a region tenant (a district over its towns) reads what its
-- member tenants granted it, and writes nothing. A grant names one Thing (with its
-- Datastreams and their Observations) or one Datastream of the granting tenant.
ALTER TABLE tenants ADD COLUMN region integer NOT NULL DEFAULT 0;

CREATE TABLE tenant_grants (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id bigint NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,   -- who grants
    grantee_id bigint NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,  -- the region
    entity_type text NOT NULL CHECK (entity_type IN ('Thing', 'Datastream')),
    entity_id bigint NOT NULL,
    created_at text NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    UNIQUE (grantee_id, entity_type, entity_id)
);
CREATE INDEX tenant_grants_tenant ON tenant_grants (tenant_id, id);
