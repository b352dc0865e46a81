-- The bus's durable state. seq_reserved: seqs up to it may have been
-- handed to subscribers before their events were stored; after a crash the
-- bus continues above it, so no seq is ever reused (issue #21).
CREATE TABLE bus_meta (
    key TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
