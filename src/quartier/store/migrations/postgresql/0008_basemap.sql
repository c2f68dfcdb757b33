-- The dashboard's base map: GeoJSON FeatureCollections per named layer (districts,
-- waters, streets, ...) of each tenant, drawn when no tile server is set.
-- (Number 0007 is taken by the notifications on another branch.)
CREATE TABLE basemap_layers (
    tenant_id bigint NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name text NOT NULL,
    features jsonb NOT NULL,     -- a GeoJSON FeatureCollection
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, name)
);
