-- The credentials the wallet issued: to whom, of what, bound to which wallet key, and their
-- place in a status list (Token Status List), which a citizen's revocation turns INVALID.
-- The credential itself is not kept: it is the citizen's, in their wallet.
CREATE TABLE wallet.status_lists (
    id         integer PRIMARY KEY,
    size       integer NOT NULL CHECK (size > 0),   -- entries, of one bit each
    created_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO wallet.status_lists (id, size) VALUES (1, 131072);

CREATE TABLE wallet.issued (
    id              uuid PRIMARY KEY,
    user_id         bigint NOT NULL,
    nrn             text NOT NULL,
    configuration   text NOT NULL,
    vct             text NOT NULL,
    holder_jkt      text NOT NULL,                  -- RFC 7638 thumbprint of the wallet's key
    status_list     integer NOT NULL REFERENCES wallet.status_lists,
    status_index    integer NOT NULL,
    issued_at       timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    revoked_at      timestamptz,
    notification_id text NOT NULL UNIQUE,
    notified        text NOT NULL DEFAULT '',       -- the wallet's last event (§11)
    UNIQUE (status_list, status_index)
);
CREATE INDEX issued_user ON wallet.issued (user_id, issued_at DESC);
