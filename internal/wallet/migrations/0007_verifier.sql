-- The wallet's verifier (OpenID4VP 1.0): relying parties, gateway consumers, each with an
-- access certificate issued by socle's CA for the verifier's signing key, its organisation in
-- the subject; the certificate's x509_hash is the relying party's client_id (OpenID4VP 1.0
-- §5.9.3). Reused while the key and organisation stay and it is valid.
CREATE TABLE wallet.verifier_parties (
    consumer        text PRIMARY KEY,
    organisation    text NOT NULL,
    key_fingerprint text NOT NULL,
    certificate     bytea NOT NULL,
    not_after       timestamptz NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);

-- Presentation requests: made by a relying party, fetched and answered once by a wallet
-- within a few minutes. The ephemeral key decrypts a direct_post.jwt answer and is dropped
-- once answered; the result (the claims disclosed) is dropped once the relying party read it,
-- and every row an hour after it was made (purgeVerifier).
CREATE TABLE wallet.presentation_requests (
    id            text PRIMARY KEY,
    consumer      text NOT NULL,
    query         jsonb NOT NULL,
    nonce         text NOT NULL,
    state         text NOT NULL,
    mode          text NOT NULL CHECK (mode IN ('direct_post', 'direct_post.jwt')),
    ephemeral_key bytea,
    status        text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'accepted', 'refused', 'expired')),
    result        jsonb,
    result_read   boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    answered_at   timestamptz
);
CREATE INDEX presentation_requests_created ON wallet.presentation_requests (created_at);
