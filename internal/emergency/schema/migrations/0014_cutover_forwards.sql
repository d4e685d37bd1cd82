-- Cutover relay (docs/operations-cutover.md). While the legacy platform still serves PSAPs,
-- every message socle accepts is also forwarded to it, from a second outbox: one row per
-- message, born in the message's transaction like its PSAP delivery row, leased, retried with
-- back-off, and never in the way of the PSAP delivery (its own table, its own worker).
-- Expand only: a nullable column and a new table, so that the previous release runs on this
-- schema unchanged (it neither reads nor writes them).

-- relayed_by names the relay platform a message came through (its organisation id), NULL
-- when an operator pushed it to socle itself. A relayed message is never forwarded back: the
-- relay already has it, and two platforms forwarding to each other must not loop.
ALTER TABLE emergency.aml_messages ADD COLUMN relayed_by text;

CREATE TABLE emergency.forwards (
	message_id   uuid PRIMARY KEY REFERENCES emergency.aml_messages (id),
	state        text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'forwarded', 'expired')),
	due_at       timestamptz NOT NULL DEFAULT now(),
	expires_at   timestamptz NOT NULL,
	attempts     int NOT NULL DEFAULT 0,
	last_error   text,
	http_status  int,
	forwarded_at timestamptz
) WITH (fillfactor = 80);
CREATE INDEX forwards_due ON emergency.forwards (due_at) WHERE state = 'pending';
