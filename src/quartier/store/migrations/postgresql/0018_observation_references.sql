-- The references of an Observation to its Datastream and FeatureOfInterest, kept by the
-- writer and by triggers rather than by foreign keys. PostgreSQL checked each foreign key
-- once per row written (a query and a row lock each), which was a third of the database's
-- work per Observation on the MQTT path and most of it in a bulk COPY. Instead:
-- * every write that points an Observation at a Datastream or FeatureOfInterest holds
--   that row locked (FOR UPDATE or FOR KEY SHARE) until it commits, so a concurrent
--   delete waits for it, and then sees its rows;
-- * deleting Datastreams or FeaturesOfInterest (also through a cascade from a Thing, a
--   Sensor, an ObservedProperty or a tenant) deletes their Observations, as ON DELETE
--   CASCADE did, once per statement.
ALTER TABLE observations DROP CONSTRAINT IF EXISTS observations_datastream_id_fkey;
ALTER TABLE observations DROP CONSTRAINT IF EXISTS observations_feature_id_fkey;

CREATE FUNCTION quartier_datastreams_deleted() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN DELETE FROM observations o USING deleted d WHERE o.datastream_id = d.id; RETURN NULL; END $$;

CREATE TRIGGER datastreams_observations AFTER DELETE ON datastreams
    REFERENCING OLD TABLE AS deleted FOR EACH STATEMENT
    EXECUTE FUNCTION quartier_datastreams_deleted();

CREATE FUNCTION quartier_features_deleted() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN DELETE FROM observations o USING deleted f WHERE o.feature_id = f.id; RETURN NULL; END $$;

CREATE TRIGGER features_observations AFTER DELETE ON features
    REFERENCING OLD TABLE AS deleted FOR EACH STATEMENT
    EXECUTE FUNCTION quartier_features_deleted();
