-- People who sign in through an OpenID provider (ProConnect or another) have no password here:
-- they are known by the provider's issuer and subject (OpenID Connect Core 1.0 §5.7: sub is
-- unique and never reassigned within an issuer; the email may change).
ALTER TABLE identity.users ALTER COLUMN password_hash DROP NOT NULL;
ALTER TABLE identity.users ADD COLUMN oidc_issuer text, ADD COLUMN oidc_subject text,
	ADD CONSTRAINT users_oidc_pair CHECK ((oidc_issuer IS NULL) = (oidc_subject IS NULL)),
	ADD CONSTRAINT users_can_sign_in CHECK (password_hash IS NOT NULL OR oidc_subject IS NOT NULL);
CREATE UNIQUE INDEX users_oidc ON identity.users (oidc_issuer, oidc_subject) WHERE oidc_subject IS NOT NULL;

-- A second factor (RFC 6238 TOTP) for accounts of the built-in store. totp_step is the last
-- time step accepted, so that a code is good once (RFC 6238 §5.2).
ALTER TABLE identity.users ADD COLUMN totp_secret text, ADD COLUMN totp_step bigint NOT NULL DEFAULT 0;

-- Where a grant comes from: 'local' (socle user grant) or 'oidc' (the provider's claims at the
-- last sign-in, replaced at each one).
ALTER TABLE identity.grants ADD COLUMN source text NOT NULL DEFAULT 'local' CHECK (source IN ('local', 'oidc'));

-- A session may be waiting for its second factor ('totp': the code; 'enroll': the first code
-- of a new secret, kept here until confirmed), and a session opened through a provider keeps
-- its ID token, for the provider's logout (RP-Initiated Logout 1.0 §2, id_token_hint).
ALTER TABLE identity.sessions ADD COLUMN pending text CHECK (pending IN ('totp', 'enroll')),
	ADD COLUMN pending_secret text, ADD COLUMN id_token text;

-- A sign-in sent to the provider and not back yet: found by the SHA-256 of its state, used
-- once, for ten minutes. The nonce and the PKCE verifier never leave socle but in the
-- authorization request (as the nonce and the S256 challenge) and the token request.
CREATE TABLE identity.oidc_logins (
	state_hash bytea PRIMARY KEY CHECK (length(state_hash) = 32),
	nonce      text NOT NULL,
	verifier   text NOT NULL,
	next       text NOT NULL,
	expires_at timestamptz NOT NULL
);
