-- The dashboard's base map: GeoJSON FeatureCollections per named layer (districts,
-- waters, streets, ...) of each tenant, drawn when no tile server is set.
-- (Number 0006 is taken by the notifications on another branch.)
CREATE TABLE basemap_layers (
    tenant_id bigint NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name text NOT NULL,
    features text NOT NULL,      -- a GeoJSON FeatureCollection
    updated_at text NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (tenant_id, name)
);
