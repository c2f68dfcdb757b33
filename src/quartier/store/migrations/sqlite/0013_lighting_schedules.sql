-- Street-lighting schedules (an astronomical clock with offsets and a night dimming
-- profile for a target of lamps), and each switching event once sent: the primary key
-- keeps an event to one set of Tasks, also with several workers.
CREATE TABLE lighting_schedules (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id bigint NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name text NOT NULL,
    definition text NOT NULL,
    UNIQUE (tenant_id, name)
);

CREATE TABLE lighting_schedule_runs (
    schedule_id bigint NOT NULL REFERENCES lighting_schedules (id) ON DELETE CASCADE,
    thing_id bigint NOT NULL,
    kind text NOT NULL,          -- on, off, dim, undim
    at text NOT NULL,     -- the event's time
    PRIMARY KEY (schedule_id, thing_id, kind, at)
);
