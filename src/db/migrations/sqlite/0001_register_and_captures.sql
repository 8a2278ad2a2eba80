-- The register of channels and the record of captures and their artifacts.
CREATE TABLE channels (
    id          TEXT PRIMARY KEY NOT NULL,
    platform    TEXT NOT NULL,
    url         TEXT NOT NULL,
    name        TEXT,
    owner       TEXT,
    admins      TEXT NOT NULL DEFAULT '[]',
    purpose     TEXT,
    tags        TEXT NOT NULL DEFAULT '[]',
    opened_at   TEXT NOT NULL,
    closed_at   TEXT
);

CREATE TABLE captures (
    id            TEXT PRIMARY KEY NOT NULL,
    channel_id    TEXT NOT NULL REFERENCES channels(id),
    state         TEXT NOT NULL CHECK (state IN ('running', 'complete', 'failed')),
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
    worker        TEXT
);
CREATE INDEX captures_by_channel ON captures (channel_id, requested_at);

CREATE TABLE artifacts (
    capture_id  TEXT NOT NULL REFERENCES captures(id),
    name        TEXT NOT NULL,
    key         TEXT NOT NULL,
    media_type  TEXT NOT NULL,
    bytes       INTEGER NOT NULL,
    sha256      TEXT NOT NULL,
    width       INTEGER,
    height      INTEGER,
    PRIMARY KEY (capture_id, name)
);
