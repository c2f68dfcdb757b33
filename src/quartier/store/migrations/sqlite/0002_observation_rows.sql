-- SQLite keeps every Observation in one table (the archive is PostgreSQL's); the view
-- gives reads the same columns as PostgreSQL's observation_rows.
CREATE VIEW observation_rows AS
SELECT o.id, o.tenant_id, o.phenomenon_time_start, o.phenomenon_time_end, o.result_time,
       o.result_type, o.result_number, o.result_string, o.result_json, o.result_quality,
       o.valid_time_start, o.valid_time_end, o.parameters, o.datastream_id, o.feature_id,
       0 AS archived, NULL AS block_first, NULL AS block_last, NULL AS block_min_id,
       NULL AS block_max_id, NULL AS block_ids
FROM observations o;
