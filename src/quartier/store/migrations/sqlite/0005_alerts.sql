-- Rules and alerts: the rules people define, what each rule knows of each subject it
-- watches (so that a restart forgets nothing), the alerts, and every change of an alert
-- (its history, and what notifications are made from).
CREATE TABLE rules (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id bigint NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name text NOT NULL,
    definition text NOT NULL,   -- description, target, condition, levels, notify
    enabled integer NOT NULL DEFAULT 1,
    revision integer NOT NULL DEFAULT 1,
    created_at text NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at text NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    UNIQUE (tenant_id, name)
);

CREATE TABLE rule_states (
    rule_id bigint NOT NULL REFERENCES rules (id) ON DELETE CASCADE,
    subject text NOT NULL,       -- what it watches: datastream:12 or thing:5
    state text NOT NULL,        -- level, pending level and since when, recent values
    alert_id bigint,             -- its alert while one is not resolved
    updated_at text NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (rule_id, subject)
);

CREATE TABLE alerts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id bigint NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    rule_id bigint REFERENCES rules (id) ON DELETE SET NULL,
    rule_name text NOT NULL,
    subject text NOT NULL,
    datastream_id bigint,
    thing_id bigint,
    status text NOT NULL,        -- open, acknowledged, resolved
    level integer NOT NULL,      -- 1.. the rule's levels (stages)
    level_name text NOT NULL,
    severity text NOT NULL,      -- minor, moderate, severe, extreme
    message text NOT NULL,
    value text,
    peak text,
    observed_at text,     -- the time of the value
    area text,
    estimate text,             -- when the next level would be reached at the recent trend                  -- GeoJSON of where it is (the Thing's location)
    opened_at text NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at text NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    acknowledged_at text,
    acknowledged_by text,
    resolved_at text,
    resolved_by text             -- NULL: the condition cleared
);
CREATE INDEX alerts_status ON alerts (tenant_id, status, opened_at);
CREATE INDEX alerts_opened ON alerts (tenant_id, opened_at);

CREATE TABLE alert_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id bigint NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    alert_id bigint NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    kind text NOT NULL,          -- opened, escalated, deescalated, acknowledged, commented, resolved, reminder
    at text NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    by_person text,
    comment text,
    alert text NOT NULL         -- the alert as it was right after this change
);
CREATE INDEX alert_events_alert ON alert_events (alert_id, id);
CREATE INDEX alert_events_tenant ON alert_events (tenant_id, id);
