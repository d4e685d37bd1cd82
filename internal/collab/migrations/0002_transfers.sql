-- The large-file transfers (Melanissimo). A transfer is an agent's sending: files, recipients,
-- a message, an expiry. The files' bytes are tusd's, under the storage directory; these rows
-- are the record, kept after the bytes are deleted (expired, abandoned, infected).
CREATE TABLE collab.transfers (
    id            bigserial PRIMARY KEY,
    owner_id      bigint NOT NULL REFERENCES identity.users (id) ON DELETE CASCADE,
    message       text NOT NULL DEFAULT '',
    password_hash text,                       -- bcrypt; NULL: no password
    receipt       boolean NOT NULL DEFAULT false, -- mail the owner on each first complete download
    expires_at    timestamptz NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    sent_at       timestamptz,                -- recipients mailed; no more files after that
    voucher_id    bigint                      -- set when an outsider's voucher made it
);
CREATE INDEX transfers_owner ON collab.transfers (owner_id);

CREATE TABLE collab.transfer_files (
    id           bigserial PRIMARY KEY,
    transfer_id  bigint NOT NULL REFERENCES collab.transfers (id) ON DELETE CASCADE,
    upload_id    text NOT NULL UNIQUE,        -- tusd's id, the file's name in the store
    name         text NOT NULL,
    content_type text NOT NULL DEFAULT 'application/octet-stream',
    size         bigint NOT NULL,
    state        text NOT NULL DEFAULT 'uploading'
                 CHECK (state IN ('uploading', 'ready', 'infected', 'abandoned', 'expired')),
    scan_result  text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz,
    deleted_at   timestamptz                  -- the bytes are gone
);
CREATE INDEX transfer_files_transfer ON collab.transfer_files (transfer_id);
CREATE INDEX transfer_files_live ON collab.transfer_files (state, created_at) WHERE deleted_at IS NULL;

CREATE TABLE collab.transfer_recipients (
    id          bigserial PRIMARY KEY,
    transfer_id bigint NOT NULL REFERENCES collab.transfers (id) ON DELETE CASCADE,
    email       text NOT NULL,
    token_hash  bytea NOT NULL UNIQUE,        -- SHA-256 of the personal link's token
    UNIQUE (transfer_id, email)
);

-- One row per download request: bytes served (a range counts its own), the network only
-- (/24 or /48: an address is personal data), complete when the ranges of that recipient sum
-- to the size.
CREATE TABLE collab.transfer_downloads (
    id           bigserial PRIMARY KEY,
    file_id      bigint NOT NULL REFERENCES collab.transfer_files (id) ON DELETE CASCADE,
    recipient_id bigint REFERENCES collab.transfer_recipients (id) ON DELETE CASCADE, -- NULL: the owner
    at           timestamptz NOT NULL DEFAULT now(),
    range_start  bigint NOT NULL,
    bytes        bigint NOT NULL,
    network      text NOT NULL
);
CREATE INDEX transfer_downloads_file ON collab.transfer_downloads (file_id, recipient_id);

-- One-time upload vouchers: an outsider's way to send files to an agent.
CREATE TABLE collab.transfer_vouchers (
    id          bigserial PRIMARY KEY,
    owner_id    bigint NOT NULL REFERENCES identity.users (id) ON DELETE CASCADE,
    token_hash  bytea NOT NULL UNIQUE,
    note        text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    transfer_id bigint REFERENCES collab.transfers (id) ON DELETE SET NULL
);
