-- Messages that could not be stored, kept with where they came from and why.
CREATE TABLE dead_letters (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id bigint REFERENCES tenants (id) ON DELETE CASCADE,
    source text NOT NULL,
    address text NOT NULL,
    received_at text NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    reason text NOT NULL,
    attempts integer NOT NULL DEFAULT 1,
    payload blob NOT NULL
);
CREATE INDEX dead_letters_received ON dead_letters (received_at, id);
