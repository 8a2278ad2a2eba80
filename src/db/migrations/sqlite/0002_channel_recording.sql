-- A channel can opt out of the screen recording.
ALTER TABLE channels ADD COLUMN recording INTEGER NOT NULL DEFAULT 1;
