-- SensorThings API 1.1 Part 1 (Sensing) entities. Times are UTC text, JSON is text.

CREATE TABLE tenants (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name text NOT NULL UNIQUE,
    created_at text NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
INSERT INTO tenants (name) VALUES ('default');

CREATE TABLE things (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id bigint NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name text NOT NULL,
    description text NOT NULL,
    properties text
);
CREATE INDEX things_tenant ON things (tenant_id, id);

CREATE TABLE features (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id bigint NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name text NOT NULL,
    description text NOT NULL,
    encoding_type text NOT NULL,
    feature text NOT NULL,
    properties text
);
CREATE INDEX features_tenant ON features (tenant_id, id);

CREATE TABLE locations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id bigint NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name text NOT NULL,
    description text NOT NULL,
    encoding_type text NOT NULL,
    location text NOT NULL,
    properties text,
    -- the FeatureOfInterest made from this Location for Observations that name none
    generated_feature_id bigint REFERENCES features (id) ON DELETE SET NULL
);
CREATE INDEX locations_tenant ON locations (tenant_id, id);

CREATE TABLE things_locations (
    thing_id bigint NOT NULL REFERENCES things (id) ON DELETE CASCADE,
    location_id bigint NOT NULL REFERENCES locations (id) ON DELETE CASCADE,
    PRIMARY KEY (thing_id, location_id)
);
CREATE INDEX things_locations_location ON things_locations (location_id);

CREATE TABLE historical_locations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id bigint NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    time text NOT NULL,
    thing_id bigint NOT NULL REFERENCES things (id) ON DELETE CASCADE
);
CREATE INDEX historical_locations_tenant ON historical_locations (tenant_id, id);
CREATE INDEX historical_locations_thing ON historical_locations (thing_id, time);

CREATE TABLE historical_locations_locations (
    historical_location_id bigint NOT NULL REFERENCES historical_locations (id) ON DELETE CASCADE,
    location_id bigint NOT NULL REFERENCES locations (id) ON DELETE CASCADE,
    PRIMARY KEY (historical_location_id, location_id)
);
CREATE INDEX historical_locations_locations_location ON historical_locations_locations (location_id);

CREATE TABLE sensors (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id bigint NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name text NOT NULL,
    description text NOT NULL,
    encoding_type text NOT NULL,
    metadata text NOT NULL,
    properties text
);
CREATE INDEX sensors_tenant ON sensors (tenant_id, id);

CREATE TABLE observed_properties (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id bigint NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name text NOT NULL,
    definition text NOT NULL,
    description text NOT NULL,
    properties text
);
CREATE INDEX observed_properties_tenant ON observed_properties (tenant_id, id);

CREATE TABLE datastreams (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id bigint NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name text NOT NULL,
    description text NOT NULL,
    unit_of_measurement text NOT NULL,
    observation_type text NOT NULL,
    observed_area text,
    phenomenon_time_start text,
    phenomenon_time_end text,
    result_time_start text,
    result_time_end text,
    properties text,
    thing_id bigint NOT NULL REFERENCES things (id) ON DELETE CASCADE,
    sensor_id bigint NOT NULL REFERENCES sensors (id) ON DELETE CASCADE,
    observed_property_id bigint NOT NULL REFERENCES observed_properties (id) ON DELETE CASCADE
);
CREATE INDEX datastreams_tenant ON datastreams (tenant_id, id);
CREATE INDEX datastreams_thing ON datastreams (thing_id);
CREATE INDEX datastreams_sensor ON datastreams (sensor_id);
CREATE INDEX datastreams_observed_property ON datastreams (observed_property_id);

CREATE TABLE observations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id bigint NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    phenomenon_time_start text NOT NULL,
    phenomenon_time_end text,
    result_time text,
    result_type smallint NOT NULL,
    result_number real,
    result_string text,
    result_json text,
    result_quality text,
    valid_time_start text,
    valid_time_end text,
    parameters text,
    datastream_id bigint NOT NULL REFERENCES datastreams (id) ON DELETE CASCADE,
    feature_id bigint NOT NULL REFERENCES features (id) ON DELETE CASCADE
);
CREATE INDEX observations_datastream_time ON observations (datastream_id, phenomenon_time_start, id);
CREATE INDEX observations_feature ON observations (feature_id);
