-- Maintenance work orders: made by hand or, one per alert, when a rule with "workOrder"
-- opens an alert (the unique alert_id keeps it at one, also with several workers).
CREATE TABLE workorders (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id bigint NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    alert_id bigint UNIQUE REFERENCES alerts (id) ON DELETE SET NULL,
    thing_id bigint,
    title text NOT NULL,
    description text NOT NULL DEFAULT '',
    status text NOT NULL CHECK (status IN ('open', 'in_progress', 'done')),
    assignee text,
    closing_note text,
    created_by text,
    created_at text NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at text NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    closed_at text
);
CREATE INDEX workorders_status ON workorders (tenant_id, status, id);
