-- Notifications: the channels alerts go out on, and the outbox of deliveries made from
-- alert_events (one per event and channel, whatever the number of workers).
CREATE TABLE notification_channels (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id bigint NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name text NOT NULL,
    kind text NOT NULL,          -- webhook, mqtt, email, cap
    config text NOT NULL,       -- the channel as the API shows it (without the secret)
    secret text,                 -- webhook: the HMAC key (needed in clear to sign)
    created_at text NOT NULL,
    updated_at text NOT NULL,
    UNIQUE (tenant_id, name)
);

CREATE TABLE notification_deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id bigint NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    channel_id bigint NOT NULL REFERENCES notification_channels (id) ON DELETE CASCADE,
    event_id bigint NOT NULL REFERENCES alert_events (id) ON DELETE CASCADE,
    alert_id bigint NOT NULL,
    kind text NOT NULL,          -- the event's kind
    status text NOT NULL,        -- pending, delivered, failed
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at text NOT NULL,
    claimed_until text,   -- a worker is sending it until then
    last_error text,
    created_at text NOT NULL,
    delivered_at text,
    message text,               -- cap: the published CAP message, fixed when published
    UNIQUE (event_id, channel_id)
);
CREATE INDEX notification_deliveries_due ON notification_deliveries (next_attempt_at)
    WHERE status = 'pending';
CREATE INDEX notification_deliveries_channel ON notification_deliveries (channel_id, id);
CREATE INDEX notification_deliveries_alert ON notification_deliveries (alert_id, channel_id, event_id);

CREATE TABLE notification_attempts (
    delivery_id bigint NOT NULL REFERENCES notification_deliveries (id) ON DELETE CASCADE,
    attempt integer NOT NULL,
    at text NOT NULL,
    error text,                  -- NULL: delivered
    PRIMARY KEY (delivery_id, attempt)
);

-- Events already turned into deliveries, and the position below which all are.
CREATE TABLE notification_fanout (
    event_id bigint PRIMARY KEY REFERENCES alert_events (id) ON DELETE CASCADE,
    at text NOT NULL
);
CREATE TABLE notification_cursor (
    name text PRIMARY KEY,
    position bigint NOT NULL
);

-- One row per reminder sent: (alert, channel, how many intervals after the alert opened).
CREATE TABLE notification_reminders (
    alert_id bigint NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    channel_id bigint NOT NULL REFERENCES notification_channels (id) ON DELETE CASCADE,
    seq integer NOT NULL,
    event_id bigint NOT NULL,
    PRIMARY KEY (alert_id, channel_id, seq)
);
