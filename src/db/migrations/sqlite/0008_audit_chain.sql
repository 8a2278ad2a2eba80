-- The audit log as a hash chain: each entry numbered and hashed over its
-- fields and the hash of the entry before, so `bevara audit verify` finds
-- an entry that was removed or edited. Entries written before keep NULLs.
ALTER TABLE audit ADD COLUMN seq INTEGER;
ALTER TABLE audit ADD COLUMN prev_hash TEXT;
ALTER TABLE audit ADD COLUMN hash TEXT;
CREATE UNIQUE INDEX audit_by_seq ON audit (seq);
