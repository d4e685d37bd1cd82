-- The gateway's catalogue: APIs, plans, JWT issuers, consumers and their subscriptions,
-- keys, certificates and token bindings. Every replica keeps an immutable copy in memory,
-- reloaded when the channel gateway_catalog is notified: every change to these tables
-- notifies it (statement triggers), from `socle apply` or from the portal alike.

CREATE TABLE gateway.apis (
    name       text PRIMARY KEY,
    spec       jsonb NOT NULL,              -- spec.API: upstreams, auth, limits, rules
    doc        text NOT NULL DEFAULT '',    -- its OpenAPI (JSON or YAML) or WSDL text
    source     text NOT NULL CHECK (source IN ('file', 'portal')),
    owners     bigint[] NOT NULL DEFAULT '{}', -- identity accounts that may edit it in the portal
    updated_at timestamptz NOT NULL DEFAULT now(),
    updated_by text NOT NULL DEFAULT ''
);

CREATE TABLE gateway.plans (
    name        text PRIMARY KEY,
    description text NOT NULL DEFAULT '',
    per_second  integer NOT NULL DEFAULT 0 CHECK (per_second >= 0),
    per_day     integer NOT NULL DEFAULT 0 CHECK (per_day >= 0),
    source      text NOT NULL CHECK (source IN ('file', 'portal'))
);

CREATE TABLE gateway.jwt_issuers (
    issuer   text PRIMARY KEY,
    jwks     text NOT NULL,
    audience text NOT NULL DEFAULT '',
    source   text NOT NULL CHECK (source IN ('file', 'portal'))
);

CREATE TABLE gateway.consumers (
    name         text PRIMARY KEY,
    organisation text NOT NULL DEFAULT '',
    contact      text NOT NULL DEFAULT '',
    owner        bigint,                    -- the account that registered it in the portal
    source       text NOT NULL CHECK (source IN ('file', 'portal')),
    created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE gateway.subscriptions (
    consumer     text NOT NULL REFERENCES gateway.consumers ON DELETE CASCADE,
    api          text NOT NULL REFERENCES gateway.apis ON DELETE CASCADE,
    plan         text NOT NULL REFERENCES gateway.plans,
    status       text NOT NULL CHECK (status IN ('pending', 'approved', 'refused')),
    requested_at timestamptz NOT NULL DEFAULT now(),
    decided_at   timestamptz,
    decided_by   text NOT NULL DEFAULT '',
    source       text NOT NULL CHECK (source IN ('file', 'portal')),
    PRIMARY KEY (consumer, api)
);

-- A key is shown once; only the SHA-256 of its secret part is kept (the secret is 32 random
-- bytes: a slow password hash adds nothing against guessing, and would cost every request).
CREATE TABLE gateway.keys (
    id         text PRIMARY KEY,            -- the public part of the key, in its text
    consumer   text NOT NULL REFERENCES gateway.consumers ON DELETE CASCADE,
    hash       bytea NOT NULL,
    label      text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by text NOT NULL DEFAULT '',
    expires_at timestamptz,                 -- set when a newer key replaces it (overlap)
    revoked_at timestamptz
);
CREATE INDEX keys_consumer ON gateway.keys (consumer);

CREATE TABLE gateway.certificates (
    fingerprint text PRIMARY KEY,           -- SHA-256 of the DER certificate (pki.Fingerprint)
    consumer    text NOT NULL REFERENCES gateway.consumers ON DELETE CASCADE,
    subject     text NOT NULL,
    not_after   timestamptz NOT NULL,
    pem         text NOT NULL,
    source      text NOT NULL CHECK (source IN ('file', 'portal'))
);

CREATE TABLE gateway.jwt_bindings (
    issuer   text NOT NULL REFERENCES gateway.jwt_issuers ON DELETE CASCADE,
    subject  text NOT NULL,
    consumer text NOT NULL REFERENCES gateway.consumers ON DELETE CASCADE,
    source   text NOT NULL CHECK (source IN ('file', 'portal')),
    PRIMARY KEY (issuer, subject)
);

CREATE FUNCTION gateway.notify_catalog() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('gateway_catalog', '');
    RETURN NULL;
END $$;

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['apis', 'plans', 'jwt_issuers', 'consumers', 'subscriptions', 'keys',
                             'certificates', 'jwt_bindings'] LOOP
        EXECUTE format('CREATE TRIGGER notify_catalog AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON gateway.%I
                        FOR EACH STATEMENT EXECUTE FUNCTION gateway.notify_catalog()', t);
    END LOOP;
END $$;

-- Quota counters: one row per subscription, the current second's and day's calls. Every
-- replica admits a call by one atomic statement on its row (see package quota), which is
-- what makes quotas exact across replicas. UNLOGGED: a counter is written on every call and
-- must not wait for a WAL flush; after a PostgreSQL crash the counts start again from zero.
CREATE UNLOGGED TABLE gateway.quota_usage (
    consumer     text NOT NULL,
    api          text NOT NULL,
    second       bigint NOT NULL,
    second_count integer NOT NULL,
    day          date NOT NULL,
    day_count    integer NOT NULL,
    PRIMARY KEY (consumer, api)
) WITH (fillfactor = 50);
