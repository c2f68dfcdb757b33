-- The Observation archive: older Observations of a Datastream packed into blocks, one
-- array per column, which PostgreSQL compresses. Reads go through observation_rows,
-- which shows the recent rows and the archived ones alike.
CREATE TABLE observation_blocks (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id bigint NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    datastream_id bigint NOT NULL REFERENCES datastreams (id) ON DELETE CASCADE,
    -- bounds of what the block holds, to skip blocks without unpacking them
    first_time timestamptz NOT NULL,   -- earliest phenomenon_time_start
    last_time timestamptz NOT NULL,    -- latest end (or start) of phenomenonTime
    result_time_min timestamptz,
    result_time_max timestamptz,
    min_id bigint NOT NULL,
    max_id bigint NOT NULL,
    observation_count integer NOT NULL,
    features bigint[] NOT NULL,        -- distinct feature ids
    -- one element per Observation, in the same order in every array; a column that is
    -- null for every Observation of the block is stored as NULL
    ids bigint[] NOT NULL,
    phenomenon_time_start timestamptz[] NOT NULL,
    phenomenon_time_end timestamptz[],
    result_time timestamptz[],
    result_type smallint[] NOT NULL,
    result_number double precision[],
    result_string text[],
    result_json jsonb[],
    result_quality jsonb[],
    valid_time_start timestamptz[],
    valid_time_end timestamptz[],
    parameters jsonb[],
    feature_id bigint[] NOT NULL
);
CREATE INDEX observation_blocks_datastream ON observation_blocks (datastream_id, last_time);
CREATE INDEX observation_blocks_ids ON observation_blocks (max_id, min_id);
CREATE INDEX observation_blocks_features ON observation_blocks USING gin (features);

-- block_* columns are NULL for recent rows, so that conditions on them that skip blocks
-- fold away for the recent table; archived is a constant in each branch.
CREATE VIEW observation_rows AS
SELECT o.id, o.tenant_id, o.phenomenon_time_start, o.phenomenon_time_end, o.result_time,
       o.result_type, o.result_number, o.result_string, o.result_json, o.result_quality,
       o.valid_time_start, o.valid_time_end, o.parameters, o.datastream_id, o.feature_id,
       false AS archived,
       NULL::timestamptz AS block_first, NULL::timestamptz AS block_last,
       NULL::bigint AS block_min_id, NULL::bigint AS block_max_id, NULL::bigint[] AS block_ids
FROM observations o
UNION ALL
SELECT u.id, b.tenant_id, u.phenomenon_time_start, u.phenomenon_time_end, u.result_time,
       u.result_type, u.result_number, u.result_string, u.result_json, u.result_quality,
       u.valid_time_start, u.valid_time_end, u.parameters, b.datastream_id, u.feature_id,
       true, b.first_time, b.last_time, b.min_id, b.max_id, b.ids
FROM observation_blocks b
CROSS JOIN LATERAL unnest(
    b.ids, b.phenomenon_time_start, b.phenomenon_time_end, b.result_time, b.result_type,
    b.result_number, b.result_string, b.result_json, b.result_quality, b.valid_time_start,
    b.valid_time_end, b.parameters, b.feature_id
) AS u (id, phenomenon_time_start, phenomenon_time_end, result_time, result_type,
        result_number, result_string, result_json, result_quality, valid_time_start,
        valid_time_end, parameters, feature_id);
