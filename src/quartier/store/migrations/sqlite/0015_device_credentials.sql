-- Device credentials: an API key bound to one Thing may only add Observations to that
-- Thing's Datastreams. No foreign key: the key stays on record when its Thing is deleted
-- (it can then write nothing, as Thing ids are never used again).
ALTER TABLE api_keys ADD COLUMN thing_id bigint;
