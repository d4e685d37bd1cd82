-- The meeting polls (Pégase). A poll belongs to the agent who created it (identity.users);
-- its participants are agents (user_id) or outsiders reached by a personal link, of which
-- only the SHA-256 is kept. What an outsider may see is the poll's outsiders_see.
CREATE TABLE collab.polls (
    id            text PRIMARY KEY,                 -- random, in URLs
    owner_id      bigint NOT NULL,                  -- identity.users
    owner_email   text NOT NULL,
    owner_name    text NOT NULL,
    title         text NOT NULL,
    description   text NOT NULL DEFAULT '',
    place         text NOT NULL DEFAULT '',
    visio_room    text NOT NULL DEFAULT '',         -- a socle room: <public-url>/visio/<room>
    deadline      timestamptz NOT NULL,
    max_per_slot  integer NOT NULL DEFAULT 0 CHECK (max_per_slot >= 0), -- 0: no limit
    one_vote      boolean NOT NULL DEFAULT false,   -- one "yes" per participant
    anonymous     boolean NOT NULL DEFAULT false,   -- results without names, even for agents
    outsiders_see text NOT NULL DEFAULT 'own' CHECK (outsiders_see IN ('own', 'counts')),
    closed_at     timestamptz,
    chosen_slot   bigint,
    sequence      integer NOT NULL DEFAULT 0,       -- RFC 5545 §3.8.7.4, raised at each invitation
    reminded_at   timestamptz,                      -- the reminder before the deadline, sent once
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX polls_owner ON collab.polls (owner_id, created_at DESC);
CREATE INDEX polls_to_remind ON collab.polls (deadline) WHERE reminded_at IS NULL AND closed_at IS NULL;

-- A slot: a time range (UTC, with the IANA zone it was given in) or a plain day.
CREATE TABLE collab.poll_slots (
    id        bigserial PRIMARY KEY,
    poll_id   text NOT NULL REFERENCES collab.polls ON DELETE CASCADE,
    position  integer NOT NULL,
    starts_at timestamptz,
    ends_at   timestamptz,
    zone      text NOT NULL DEFAULT '',
    day       date,
    CHECK ((day IS NULL) <> (starts_at IS NULL)),
    CHECK (starts_at IS NULL OR ends_at > starts_at),
    UNIQUE (poll_id, position)
);
ALTER TABLE collab.polls ADD FOREIGN KEY (chosen_slot) REFERENCES collab.poll_slots (id) ON DELETE SET NULL
    DEFERRABLE INITIALLY DEFERRED;

CREATE TABLE collab.poll_participants (
    id          bigserial PRIMARY KEY,
    poll_id     text NOT NULL REFERENCES collab.polls ON DELETE CASCADE,
    user_id     bigint,                 -- an agent; NULL for an outsider
    token_hash  bytea UNIQUE,           -- an outsider's personal link, SHA-256
    name        text NOT NULL DEFAULT '',
    email       text NOT NULL DEFAULT '',
    answered_at timestamptz,
    CHECK ((user_id IS NULL) <> (token_hash IS NULL)),
    UNIQUE (poll_id, user_id)
);

CREATE TABLE collab.poll_answers (
    participant_id bigint NOT NULL REFERENCES collab.poll_participants ON DELETE CASCADE,
    slot_id        bigint NOT NULL REFERENCES collab.poll_slots ON DELETE CASCADE,
    answer         text NOT NULL CHECK (answer IN ('yes', 'maybe', 'no')),
    PRIMARY KEY (participant_id, slot_id)
);

CREATE TABLE collab.poll_comments (
    id             bigserial PRIMARY KEY,
    poll_id        text NOT NULL REFERENCES collab.polls ON DELETE CASCADE,
    participant_id bigint REFERENCES collab.poll_participants ON DELETE CASCADE, -- NULL: the creator
    body           text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now()
);
