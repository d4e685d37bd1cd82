-- The authorisation server's short-lived state, shared by every replica: pushed requests,
-- authorisation codes, pre-authorised grants, access tokens, c_nonces and DPoP proof ids
-- seen. Each is keyed by the SHA-256 of its secret (oauth.Hash): no code or token is kept in
-- clear. Rows past their expiry are refused on read and purged.
CREATE TABLE wallet.oauth_state (
    kind       text NOT NULL CHECK (kind IN ('par', 'consent', 'code', 'preauth', 'token', 'cnonce', 'jti')),
    key        text NOT NULL,
    value      jsonb NOT NULL DEFAULT '{}',
    attempts   integer NOT NULL DEFAULT 0,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (kind, key)
);
CREATE INDEX oauth_state_expiry ON wallet.oauth_state (expires_at);

-- The wallets (OAuth clients) allowed the authorisation code flow, and where they may be sent
-- back to.
CREATE TABLE wallet.clients (
    id            text PRIMARY KEY,
    name          text NOT NULL,
    redirect_uris text[] NOT NULL
);
