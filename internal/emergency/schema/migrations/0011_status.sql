-- The status page's memory: the worst level of each component per day (90 days are shown),
-- and what administrators post: incidents with their updates, maintenance windows, news.
CREATE TABLE emergency.status_days (
	component text NOT NULL,
	day       date NOT NULL, -- Paris time
	worst     text NOT NULL CHECK (worst IN ('operational', 'degraded', 'down')),
	PRIMARY KEY (component, day)
);

CREATE TABLE emergency.status_posts (
	id         bigserial PRIMARY KEY,
	kind       text NOT NULL CHECK (kind IN ('incident', 'maintenance', 'news')),
	title      text NOT NULL CHECK (title <> '' AND length(title) <= 200),
	components text[] NOT NULL DEFAULT '{}',
	starts_at  timestamptz NOT NULL,
	ends_at    timestamptz, -- a maintenance window's end; an incident's resolution
	created_by text NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now(),
	CHECK (ends_at IS NULL OR ends_at >= starts_at)
);

-- An incident's or a maintenance's successive updates; the first is its description, a news
-- item has only that one.
CREATE TABLE emergency.status_updates (
	post_id   bigint NOT NULL REFERENCES emergency.status_posts (id) ON DELETE CASCADE,
	at        timestamptz NOT NULL DEFAULT now(),
	state     text NOT NULL CHECK (state IN ('investigating', 'identified', 'monitoring', 'resolved', 'scheduled', 'in_progress', 'completed', 'published')),
	body      text NOT NULL CHECK (body <> '' AND length(body) <= 4000),
	by_whom   text NOT NULL
);
CREATE INDEX status_updates_post ON emergency.status_updates (post_id, at);
CREATE INDEX status_posts_starts ON emergency.status_posts (starts_at DESC);
