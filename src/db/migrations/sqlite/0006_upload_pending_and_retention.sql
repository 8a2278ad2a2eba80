-- A capture whose artifacts wait in the spool for the object store is
-- 'upload-pending'. SQLite cannot change a CHECK constraint in place, so the
-- table is rebuilt; the foreign keys of artifacts and items find the new
-- table under the old name when the transaction commits.
PRAGMA defer_foreign_keys = ON;
CREATE TABLE captures_new (
    id            TEXT PRIMARY KEY NOT NULL,
    channel_id    TEXT NOT NULL REFERENCES channels(id),
    state         TEXT NOT NULL CHECK (state IN ('running', 'upload-pending', 'complete', 'failed')),
    trigger_kind  TEXT NOT NULL,
    reason        TEXT,
    requested_by  TEXT,
    requested_at  TEXT NOT NULL,
    started_at    TEXT,
    finished_at   TEXT,
    url           TEXT NOT NULL,
    final_url     TEXT,
    title         TEXT,
    failure_code  TEXT,
    failure       TEXT,
    warnings      INTEGER NOT NULL DEFAULT 0,
    truncated     INTEGER NOT NULL DEFAULT 0,
    manifest_key  TEXT,
    worker        TEXT,
    job_id        TEXT
);
INSERT INTO captures_new SELECT * FROM captures;
DROP TABLE captures;
ALTER TABLE captures_new RENAME TO captures;
CREATE INDEX captures_by_channel ON captures (channel_id, requested_at);
CREATE INDEX captures_by_job ON captures (job_id);
CREATE UNIQUE INDEX captures_one_running_per_channel ON captures (channel_id) WHERE state = 'running';
CREATE INDEX captures_by_state ON captures (state);

-- Object Lock days for this channel's snapshots (NULL: store.object_lock_days).
ALTER TABLE channels ADD COLUMN retain_days INTEGER;
-- The object version the store wrote, on a versioned bucket.
ALTER TABLE artifacts ADD COLUMN version_id TEXT;
