-- The issuer's keys. One is current and signs credentials and status lists; the ones before
-- it stay published (/.well-known/jwt-vc-issuer) while a credential they signed is unexpired,
-- so that verifiers still verify it. Every replica reads the current key here. The private
-- key is never here: a file under the data directory (ref, its path) or an object of the
-- PKCS#11 token (ref, its label); the certificate chain is, for publishing a retired key.
CREATE TABLE wallet.issuer_keys (
    kid        text PRIMARY KEY,                 -- the leaf certificate's SHA-256, 8 bytes, hex
    source     text NOT NULL CHECK (source IN ('file', 'pkcs11')),
    ref        text NOT NULL,
    chain_pem  text NOT NULL,                    -- leaf first (x5c, RFC 7515 §4.1.6)
    created_at timestamptz NOT NULL DEFAULT now(),
    retired_at timestamptz                       -- when another became current
);
CREATE UNIQUE INDEX issuer_keys_one_current ON wallet.issuer_keys ((true)) WHERE retired_at IS NULL;

-- Which key signed each credential: a retired key is published until the newest exp of the
-- credentials it signed.
ALTER TABLE wallet.issued ADD COLUMN kid text;
CREATE INDEX issued_kid_expiry ON wallet.issued (kid, expires_at);
-- The purge of expired credentials (issued.go) reads by expiry.
CREATE INDEX issued_expiry ON wallet.issued (expires_at);
