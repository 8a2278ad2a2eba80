-- API tokens (only their SHA-256 is kept) and the audit log of every
-- state-changing action taken through the web API.
CREATE TABLE tokens (
    id           TEXT COLLATE "C" PRIMARY KEY,
    name         TEXT NOT NULL,
    role         TEXT NOT NULL CHECK (role IN ('viewer', 'archivist', 'admin', 'ops')),
    hash         TEXT NOT NULL UNIQUE,
    created_at   TIMESTAMPTZ NOT NULL,
    created_by   TEXT,
    revoked_at   TIMESTAMPTZ
);
CREATE TABLE audit (
    id      TEXT COLLATE "C" PRIMARY KEY,
    at      TIMESTAMPTZ NOT NULL,
    actor   TEXT NOT NULL,
    role    TEXT NOT NULL,
    action  TEXT NOT NULL,
    target  TEXT,
    detail  TEXT
);
CREATE INDEX audit_by_time ON audit (at);
