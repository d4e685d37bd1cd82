-- Credential offers (OpenID4VCI 1.0 §4.1): what a citizen asked to put in their wallet, with
-- the pre-authorised code a wallet redeems at the token endpoint together with the
-- transaction code the citizen reads on the page (kept as its SHA-256 only). The code itself
-- is in the offer, which anyone holding its reference may read: it is worth nothing without
-- the transaction code, and lives ten minutes.
CREATE TABLE wallet.offers (
    id             text PRIMARY KEY,
    user_id        bigint NOT NULL,
    nrn            text NOT NULL,
    configurations text[] NOT NULL,
    code           text NOT NULL UNIQUE,
    tx_code_hash   bytea NOT NULL,
    tx_attempts    integer NOT NULL DEFAULT 0,
    created_at     timestamptz NOT NULL DEFAULT now(),
    expires_at     timestamptz NOT NULL,
    redeemed_at    timestamptz
);
CREATE INDEX offers_expiry ON wallet.offers (expires_at);
