-- Posts, comments and replies of each snapshot, searchable by text and author.
CREATE TABLE items (
    capture_id      TEXT NOT NULL REFERENCES captures(id),
    item_id         TEXT NOT NULL,
    position        INTEGER NOT NULL,
    kind            TEXT NOT NULL,
    parent          TEXT,
    author          TEXT,
    published_shown TEXT,
    published_at    TEXT,
    text            TEXT NOT NULL,
    permalink       TEXT,
    links           TEXT NOT NULL DEFAULT '[]',
    media           TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (capture_id, item_id)
);
CREATE INDEX items_by_item ON items (item_id);

CREATE VIRTUAL TABLE items_fts USING fts5(
    text, author, content = 'items', content_rowid = 'rowid', tokenize = 'unicode61 remove_diacritics 0'
);
CREATE TRIGGER items_fts_insert AFTER INSERT ON items BEGIN
    INSERT INTO items_fts (rowid, text, author) VALUES (new.rowid, new.text, new.author);
END;
CREATE TRIGGER items_fts_delete AFTER DELETE ON items BEGIN
    INSERT INTO items_fts (items_fts, rowid, text, author) VALUES ('delete', old.rowid, old.text, old.author);
END;
