-- API tokens (only their SHA-256 is kept) and the audit log of every
-- state-changing action taken through the web API.
CREATE TABLE tokens (
    id           TEXT PRIMARY KEY NOT NULL,
    name         TEXT NOT NULL,
    role         TEXT NOT NULL CHECK (role IN ('viewer', 'archivist', 'admin', 'ops')),
    hash         TEXT NOT NULL UNIQUE,
    created_at   TEXT NOT NULL,
    created_by   TEXT,
    revoked_at   TEXT
);
CREATE TABLE audit (
    id      TEXT PRIMARY KEY NOT NULL,
    at      TEXT NOT NULL,
    actor   TEXT NOT NULL,
    role    TEXT NOT NULL,
    action  TEXT NOT NULL,
    target  TEXT,
    detail  TEXT
);
CREATE INDEX audit_by_time ON audit (at);
