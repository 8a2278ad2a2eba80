-- A capture whose artifacts wait in the spool for the object store is
-- 'upload-pending'.
ALTER TABLE captures DROP CONSTRAINT captures_state_check;
ALTER TABLE captures ADD CONSTRAINT captures_state_check
    CHECK (state IN ('running', 'upload-pending', 'complete', 'failed'));
CREATE INDEX captures_by_state ON captures (state);
-- Object Lock days for this channel's snapshots (NULL: store.object_lock_days).
ALTER TABLE channels ADD COLUMN retain_days BIGINT;
-- The object version the store wrote, on a versioned bucket.
ALTER TABLE artifacts ADD COLUMN version_id TEXT;
