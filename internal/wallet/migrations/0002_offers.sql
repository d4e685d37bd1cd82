-- Credential offers (OpenID4VCI 1.0 §4.1): what a citizen asked to put in their wallet. The
-- offer is served by reference to whoever holds its id, with its pre-authorised code: that
-- code is worth nothing without the transaction code the citizen reads on the page, which is
-- kept (as its hash) with the grant in wallet.oauth_state, and it lives ten minutes.
CREATE TABLE wallet.offers (
    id             text PRIMARY KEY,
    user_id        bigint NOT NULL,
    configurations text[] NOT NULL,
    code           text NOT NULL UNIQUE,
    created_at     timestamptz NOT NULL DEFAULT now(),
    expires_at     timestamptz NOT NULL
);
CREATE INDEX offers_expiry ON wallet.offers (expires_at);
