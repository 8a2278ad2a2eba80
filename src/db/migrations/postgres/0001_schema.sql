-- The whole schema at once: the register, captures with their artifacts and
-- items, the job queue, the schedules' fire log and debates. The same tables
-- and columns as SQLite's migrations; lists are JSON arrays in TEXT, as there.
--
-- Ids are COLLATE "C" so they sort byte by byte, as in SQLite, whatever the
-- database's collation (a locale's collation would skip the `-`, `_` and `.`
-- of channel ids).

CREATE TABLE channels (
    id          TEXT COLLATE "C" PRIMARY KEY,
    platform    TEXT NOT NULL,
    url         TEXT NOT NULL,
    name        TEXT,
    owner       TEXT,
    admins      TEXT NOT NULL DEFAULT '[]',
    purpose     TEXT,
    tags        TEXT NOT NULL DEFAULT '[]',
    opened_at   TIMESTAMPTZ NOT NULL,
    closed_at   TIMESTAMPTZ,
    -- A channel can opt out of the screen recording.
    recording   BOOLEAN NOT NULL DEFAULT TRUE
);

CREATE TABLE captures (
    id            TEXT COLLATE "C" PRIMARY KEY,
    channel_id    TEXT COLLATE "C" NOT NULL REFERENCES channels(id),
    state         TEXT NOT NULL CHECK (state IN ('running', 'complete', 'failed')),
    trigger_kind  TEXT NOT NULL,
    reason        TEXT,
    requested_by  TEXT,
    requested_at  TIMESTAMPTZ NOT NULL,
    started_at    TIMESTAMPTZ,
    finished_at   TIMESTAMPTZ,
    url           TEXT NOT NULL,
    final_url     TEXT,
    title         TEXT,
    failure_code  TEXT,
    failure       TEXT,
    warnings      BIGINT NOT NULL DEFAULT 0,
    truncated     BOOLEAN NOT NULL DEFAULT FALSE,
    manifest_key  TEXT,
    worker        TEXT,
    -- The job this capture is an attempt at.
    job_id        TEXT COLLATE "C"
);
CREATE INDEX captures_by_channel ON captures (channel_id, requested_at);
CREATE INDEX captures_by_job ON captures (job_id);

CREATE TABLE artifacts (
    capture_id  TEXT COLLATE "C" NOT NULL REFERENCES captures(id),
    name        TEXT COLLATE "C" NOT NULL,
    key         TEXT NOT NULL,
    media_type  TEXT NOT NULL,
    bytes       BIGINT NOT NULL,
    sha256      TEXT NOT NULL,
    width       BIGINT,
    height      BIGINT,
    PRIMARY KEY (capture_id, name)
);

-- Posts, comments and replies of each snapshot, searchable by text and author.
CREATE TABLE items (
    capture_id      TEXT COLLATE "C" NOT NULL REFERENCES captures(id),
    item_id         TEXT COLLATE "C" NOT NULL,
    position        BIGINT NOT NULL,
    kind            TEXT NOT NULL,
    parent          TEXT,
    author          TEXT,
    published_shown TEXT,
    published_at    TIMESTAMPTZ,
    text            TEXT NOT NULL,
    permalink       TEXT,
    links           TEXT NOT NULL DEFAULT '[]',
    media           TEXT NOT NULL DEFAULT '[]',
    -- The words of text and author, split and lower-cased by Bevara as
    -- SQLite's unicode61 tokenizer does (see `search_words` in postgres.rs),
    -- then made a vector with the `simple` configuration (no stemming, no
    -- stop words). Not a generated column over the raw text: Postgres' own
    -- parser keeps URLs, e-mail addresses and host names whole, and in a
    -- database with the C locale lower-cases only ASCII, so `Åtgärd` would
    -- not be found as `åtgärd`.
    search          TSVECTOR NOT NULL,
    PRIMARY KEY (capture_id, item_id)
);
CREATE INDEX items_by_item ON items (item_id);
CREATE INDEX items_search ON items USING GIN (search);

CREATE TABLE jobs (
    id               TEXT COLLATE "C" PRIMARY KEY,
    channel_id       TEXT COLLATE "C" NOT NULL REFERENCES channels(id),
    status           TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed', 'cancelled')),
    trigger_kind     TEXT NOT NULL,
    schedule         TEXT,
    fire_time        TIMESTAMPTZ,
    debate_id        TEXT,
    reasons          TEXT NOT NULL DEFAULT '[]',
    requested_by     TEXT,
    priority         BIGINT NOT NULL,
    attempts         BIGINT NOT NULL DEFAULT 0,
    max_attempts     BIGINT NOT NULL,
    lease_owner      TEXT,
    lease_expires_at TIMESTAMPTZ,
    heartbeat_at     TIMESTAMPTZ,
    next_attempt_at  TIMESTAMPTZ NOT NULL,
    last_error_code  TEXT,
    last_error       TEXT,
    snapshot_id      TEXT,
    recording        BOOLEAN,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL
);
-- One queued or running job per channel: a second request joins it.
CREATE UNIQUE INDEX jobs_one_active_per_channel ON jobs (channel_id) WHERE status IN ('queued', 'running');
-- The claim's order, over the queued jobs only.
CREATE INDEX jobs_due ON jobs (priority DESC, next_attempt_at, id) WHERE status = 'queued';
CREATE INDEX jobs_running_lease ON jobs (lease_expires_at) WHERE status = 'running';
CREATE INDEX jobs_by_created ON jobs (created_at DESC, id DESC);

-- Each (schedule, channel, fire time) is enqueued once, however many schedulers run.
CREATE TABLE schedule_fires (
    schedule    TEXT COLLATE "C" NOT NULL,
    channel_id  TEXT COLLATE "C" NOT NULL,
    fire_time   TIMESTAMPTZ NOT NULL,
    outcome     TEXT NOT NULL CHECK (outcome IN ('enqueued', 'missed')),
    job_id      TEXT COLLATE "C",
    recorded_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (schedule, channel_id, fire_time)
);
CREATE INDEX schedule_fires_latest ON schedule_fires (schedule, fire_time);

CREATE TABLE debates (
    id          TEXT COLLATE "C" PRIMARY KEY,
    channels    TEXT NOT NULL DEFAULT '[]',
    tag         TEXT,
    every_secs  BIGINT NOT NULL CHECK (every_secs >= 60),
    starts_at   TIMESTAMPTZ NOT NULL,
    until       TIMESTAMPTZ NOT NULL,
    reason      TEXT NOT NULL,
    started_by  TEXT,
    stopped_at  TIMESTAMPTZ,
    stopped_by  TEXT
);
