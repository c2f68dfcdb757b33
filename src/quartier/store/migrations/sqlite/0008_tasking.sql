-- SensorThings API Part 2 (Tasking Core): Actuators, TaskingCapabilities and Tasks; the
-- delivery of each Task to its device (an outbox with claims, as notifications have);
-- downlink settings of LoRaWAN integrations; saved groups of street lamps.
CREATE TABLE actuators (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id bigint NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name text NOT NULL,
    description text NOT NULL,
    encoding_type text NOT NULL,
    metadata text NOT NULL,
    properties text
);
CREATE INDEX actuators_tenant ON actuators (tenant_id, id);

CREATE TABLE tasking_capabilities (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id bigint NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name text NOT NULL,
    description text NOT NULL,
    tasking_parameters text NOT NULL,
    properties text,
    thing_id bigint NOT NULL REFERENCES things (id) ON DELETE CASCADE,
    actuator_id bigint NOT NULL REFERENCES actuators (id) ON DELETE CASCADE
);
CREATE INDEX tasking_capabilities_tenant ON tasking_capabilities (tenant_id, id);
CREATE INDEX tasking_capabilities_thing ON tasking_capabilities (thing_id);
CREATE INDEX tasking_capabilities_actuator ON tasking_capabilities (actuator_id);

CREATE TABLE tasks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id bigint NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    creation_time text NOT NULL,
    tasking_parameters text NOT NULL,
    status text NOT NULL,        -- created, sent, confirmed, failed
    status_time text NOT NULL,
    status_reason text,
    tasking_capability_id bigint NOT NULL REFERENCES tasking_capabilities (id) ON DELETE CASCADE
);
CREATE INDEX tasks_tenant ON tasks (tenant_id, id);
CREATE INDEX tasks_capability ON tasks (tasking_capability_id, creation_time);
CREATE INDEX tasks_open ON tasks (tenant_id, status) WHERE status IN ('created', 'sent');

-- One row per Task: sent to its device once, by one worker (claims as in notifications).
CREATE TABLE task_deliveries (
    task_id bigint PRIMARY KEY REFERENCES tasks (id) ON DELETE CASCADE,
    tenant_id bigint NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    status text NOT NULL,        -- pending, sent, failed
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at text NOT NULL,
    claimed_until text,
    last_error text
);
CREATE INDEX task_deliveries_due ON task_deliveries (next_attempt_at) WHERE status = 'pending';

-- Where a network server takes downlinks: the settings (shown) and the API key (never shown).
ALTER TABLE lorawan_integrations ADD COLUMN downlink text;
ALTER TABLE lorawan_integrations ADD COLUMN downlink_key text;

CREATE TABLE lighting_groups (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id bigint NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name text NOT NULL,
    definition text NOT NULL,   -- {"things": [ids]} or {"filter": "…"} on Things
    UNIQUE (tenant_id, name)
);

-- A Task's stages, each recorded once in the transaction that moves its status: "sent"
-- (the device's network server took it) and "final" (confirmed or failed). When the
-- confirming uplink and the timeout meet, the first to commit wins; the other is undone.
CREATE TABLE task_outcomes (
    task_id bigint NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    stage text NOT NULL,         -- sent, final
    status text NOT NULL,        -- sent, confirmed, failed
    at text NOT NULL,
    PRIMARY KEY (task_id, stage)
);
CREATE INDEX task_outcomes_stage ON task_outcomes (stage, at);
