-- LoRaWAN: device profiles, the device registry, network-server integrations, and the
-- uplinks already stored (so that a redelivery is stored once).
CREATE TABLE device_profiles (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id bigint NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name text NOT NULL,
    definition text NOT NULL,
    created_at text NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    UNIQUE (tenant_id, name)
);

CREATE TABLE devices (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id bigint NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    dev_eui text NOT NULL,
    name text NOT NULL,
    profile_id bigint NOT NULL REFERENCES device_profiles (id),
    thing_id bigint REFERENCES things (id) ON DELETE SET NULL,
    datastreams text NOT NULL,
    created_at text NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    UNIQUE (tenant_id, dev_eui)
);
CREATE INDEX devices_profile ON devices (profile_id);

CREATE TABLE lorawan_integrations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id bigint NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name text NOT NULL,
    network text NOT NULL,
    secret_hash text NOT NULL,
    mqtt_url text,
    mqtt_topic text,
    created_at text NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    UNIQUE (tenant_id, name)
);

CREATE TABLE uplinks_seen (
    device_id bigint NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    dedup_key text NOT NULL,
    received_at text NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (device_id, dedup_key)
);
CREATE INDEX uplinks_seen_received ON uplinks_seen (received_at);
