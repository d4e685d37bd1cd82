-- Usage statistics of the web conference: one row per conference, without its name or its
-- participants (who met and about what is none of the statistics' business).
CREATE TABLE visio.conferences (
	id               bigserial PRIMARY KEY,
	started_at       timestamptz NOT NULL,
	ended_at         timestamptz,
	peak             int NOT NULL DEFAULT 0, -- most participants at once
	joins            int NOT NULL DEFAULT 0, -- entries, guests included
	guests           int NOT NULL DEFAULT 0
);
CREATE INDEX conferences_started ON visio.conferences (started_at);
