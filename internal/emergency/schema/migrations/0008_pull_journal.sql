-- The pull audit is written to a local journal before the answer leaves, then shipped here
-- in batches; a batch shipped twice (a crash between its commit and the journal's
-- checkpoint) must not count twice: each record carries its key.
ALTER TABLE emergency.pull_queries ADD COLUMN key uuid;
CREATE UNIQUE INDEX pull_queries_key ON emergency.pull_queries (key);
