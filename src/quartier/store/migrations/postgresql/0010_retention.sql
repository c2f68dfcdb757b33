-- Data retention: a Datastream keeps its Observations this many days (by the start of
-- their phenomenonTime), then the retention job deletes them; NULL keeps them forever.
ALTER TABLE datastreams ADD COLUMN retention_days integer CHECK (retention_days > 0);
CREATE INDEX datastreams_retention ON datastreams (thing_id) WHERE retention_days IS NOT NULL;
