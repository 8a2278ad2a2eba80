-- The job queue, the schedules' fire log and debates; captures know their job.
ALTER TABLE captures ADD COLUMN job_id TEXT;
CREATE INDEX captures_by_job ON captures (job_id);

CREATE TABLE jobs (
    id               TEXT PRIMARY KEY NOT NULL,
    channel_id       TEXT NOT NULL REFERENCES channels(id),
    status           TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed', 'cancelled')),
    trigger_kind     TEXT NOT NULL,
    schedule         TEXT,
    fire_time        TEXT,
    debate_id        TEXT,
    reasons          TEXT NOT NULL DEFAULT '[]',
    requested_by     TEXT,
    priority         INTEGER NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    max_attempts     INTEGER NOT NULL,
    lease_owner      TEXT,
    lease_expires_at TEXT,
    heartbeat_at     TEXT,
    next_attempt_at  TEXT NOT NULL,
    last_error_code  TEXT,
    last_error       TEXT,
    snapshot_id      TEXT,
    recording        INTEGER,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);
-- One queued or running job per channel: a second request joins it.
CREATE UNIQUE INDEX jobs_one_active_per_channel ON jobs (channel_id) WHERE status IN ('queued', 'running');
CREATE INDEX jobs_due ON jobs (status, priority DESC, next_attempt_at);

-- Each (schedule, channel, fire time) is enqueued once, however many schedulers run.
CREATE TABLE schedule_fires (
    schedule    TEXT NOT NULL,
    channel_id  TEXT NOT NULL,
    fire_time   TEXT NOT NULL,
    outcome     TEXT NOT NULL CHECK (outcome IN ('enqueued', 'missed')),
    job_id      TEXT,
    recorded_at TEXT NOT NULL,
    PRIMARY KEY (schedule, channel_id, fire_time)
);
CREATE INDEX schedule_fires_latest ON schedule_fires (schedule, fire_time);

CREATE TABLE debates (
    id          TEXT PRIMARY KEY NOT NULL,
    channels    TEXT NOT NULL DEFAULT '[]',
    tag         TEXT,
    every_secs  INTEGER NOT NULL CHECK (every_secs >= 60),
    starts_at   TEXT NOT NULL,
    until       TEXT NOT NULL,
    reason      TEXT NOT NULL,
    started_by  TEXT,
    stopped_at  TEXT,
    stopped_by  TEXT
);
