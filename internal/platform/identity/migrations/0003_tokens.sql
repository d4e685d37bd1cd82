-- Personal access tokens: a script acts as its person with `Authorization: Bearer TOKEN`
-- (RFC 6750 §2.1). Only the SHA-256 of a token is kept; a token is shown once, when made.
CREATE TABLE identity.tokens (
	id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	user_id      bigint NOT NULL REFERENCES identity.users (id) ON DELETE CASCADE,
	hash         bytea NOT NULL UNIQUE CHECK (length(hash) = 32),
	name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
	created_at   timestamptz NOT NULL DEFAULT now(),
	expires_at   timestamptz NOT NULL,
	last_used_at timestamptz,
	revoked_at   timestamptz
);
CREATE INDEX tokens_user ON identity.tokens (user_id);
