-- The citizen's official inbox (eBox): administrations, consumers of the API gateway, publish
-- messages to a national register number; the citizen reads them, and acknowledges the
-- registered ones.
--
-- Two lives. The proof of delivery (inbox_proofs) says who sent what to whom, with the digest
-- of the content and its attachments, and when it was published, read, acknowledged and
-- purged: it is the one record of those times, and it outlives the content. The content
-- (inbox_messages, inbox_attachments) is deleted when its retention ends.
CREATE TABLE wallet.inbox_proofs (
    id                uuid PRIMARY KEY,
    sender            text NOT NULL,                 -- the gateway's consumer
    sender_org        text NOT NULL DEFAULT '',      -- its organisation, as the gateway named it
    sender_message_id text NOT NULL,                 -- the sender's own id: its idempotency key
    nrn               text NOT NULL CHECK (nrn ~ '^[0-9]{11}$'),
    registered        boolean NOT NULL,
    digest            text NOT NULL,                 -- sha256: of the content and attachments
    published_at      timestamptz NOT NULL,
    read_at           timestamptz,
    acknowledged_at   timestamptz CHECK (acknowledged_at IS NULL OR registered),
    purged_at         timestamptz,
    changed_at        timestamptz NOT NULL,          -- the last of those: the senders' ?since=
    UNIQUE (sender, sender_message_id)
);
CREATE INDEX inbox_proofs_changes ON wallet.inbox_proofs (sender, changed_at);
CREATE INDEX inbox_proofs_citizen ON wallet.inbox_proofs (nrn) WHERE purged_at IS NULL;
CREATE INDEX inbox_proofs_purged ON wallet.inbox_proofs (purged_at) WHERE purged_at IS NOT NULL;

CREATE TABLE wallet.inbox_messages (
    id             uuid PRIMARY KEY REFERENCES wallet.inbox_proofs,
    subject        text NOT NULL,
    body           text NOT NULL,                    -- plain text
    language       text NOT NULL CHECK (language IN ('fr', 'nl', 'de', 'en')),
    retention_days integer NOT NULL CHECK (retention_days BETWEEN 1 AND 3650),
    expires_at     timestamptz NOT NULL              -- published_at + retention_days: then purged
);
CREATE INDEX inbox_messages_expiry ON wallet.inbox_messages (expires_at);

-- At most 10 per message and 10 MiB in all (checked by the API, which answers why).
CREATE TABLE wallet.inbox_attachments (
    message_id uuid NOT NULL REFERENCES wallet.inbox_messages ON DELETE CASCADE,
    position   integer NOT NULL CHECK (position BETWEEN 0 AND 9),
    name       text NOT NULL,
    media_type text NOT NULL,
    size       integer NOT NULL CHECK (size BETWEEN 1 AND 10485760),
    sha256     text NOT NULL,
    content    bytea NOT NULL,
    PRIMARY KEY (message_id, position)
);
