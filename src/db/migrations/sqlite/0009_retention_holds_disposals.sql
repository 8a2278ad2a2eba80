-- Disposal by decision: retention rules per channel or platform, each with
-- the disposal decision (gallringsbeslut) that allows it; legal holds that
-- stop disposal; and a record of every disposal, kept after the snapshot.
CREATE TABLE retention_rules (
    id             TEXT PRIMARY KEY NOT NULL,
    channel_id     TEXT,
    platform       TEXT,
    keep_days      INTEGER NOT NULL CHECK (keep_days >= 0),
    decision_id    TEXT NOT NULL,
    decision_date  TEXT,
    decision_text  TEXT,
    set_at         TEXT NOT NULL,
    set_by         TEXT,
    CHECK ((channel_id IS NULL) <> (platform IS NULL))
);
CREATE UNIQUE INDEX retention_by_channel ON retention_rules (channel_id) WHERE channel_id IS NOT NULL;
CREATE UNIQUE INDEX retention_by_platform ON retention_rules (platform) WHERE platform IS NOT NULL;
CREATE TABLE holds (
    id           TEXT PRIMARY KEY NOT NULL,
    snapshot_id  TEXT,
    channel_id   TEXT,
    reason       TEXT NOT NULL,
    placed_at    TEXT NOT NULL,
    placed_by    TEXT,
    removed_at   TEXT,
    removed_by   TEXT,
    CHECK ((snapshot_id IS NULL) <> (channel_id IS NULL))
);
CREATE TABLE disposals (
    id             TEXT PRIMARY KEY NOT NULL,
    snapshot_id    TEXT NOT NULL,
    channel_id     TEXT NOT NULL,
    requested_at   TEXT NOT NULL,
    disposed_at    TEXT NOT NULL,
    decision_id    TEXT NOT NULL,
    decision_date  TEXT,
    decision_text  TEXT,
    keep_days      INTEGER NOT NULL,
    disposed_by    TEXT,
    objects        INTEGER NOT NULL,
    bytes          INTEGER NOT NULL,
    manifest_sha256 TEXT
);
