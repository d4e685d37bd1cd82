-- People (agents) who sign in to socle's web pages, what they may do where, and their
-- sessions. Organisations are identified by certificate elsewhere; this is for people.
CREATE TABLE identity.users (
	id            bigserial PRIMARY KEY,
	email         text NOT NULL UNIQUE CHECK (email <> '' AND email = lower(email)),
	name          text NOT NULL,
	password_hash text NOT NULL, -- argon2id, PHC string format
	disabled      boolean NOT NULL DEFAULT false,
	created_at    timestamptz NOT NULL DEFAULT now()
);

-- A role on a scope: a département code (75, 2A, 971) or * for every département.
CREATE TABLE identity.grants (
	user_id bigint NOT NULL REFERENCES identity.users (id) ON DELETE CASCADE,
	role    text NOT NULL CHECK (role <> ''),
	scope   text NOT NULL CHECK (scope <> ''),
	PRIMARY KEY (user_id, role, scope)
);

-- A session is known by the SHA-256 of its token: the token itself is only ever in the
-- browser's cookie, so a copy of this table does not let anyone in.
CREATE TABLE identity.sessions (
	id           bytea PRIMARY KEY CHECK (length(id) = 32),
	user_id      bigint NOT NULL REFERENCES identity.users (id) ON DELETE CASCADE,
	created_at   timestamptz NOT NULL,
	expires_at   timestamptz NOT NULL,
	last_seen_at timestamptz NOT NULL
);

CREATE INDEX sessions_user_id ON identity.sessions (user_id);
CREATE INDEX sessions_expires_at ON identity.sessions (expires_at);
