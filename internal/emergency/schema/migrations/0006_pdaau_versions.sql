-- The PDAAU lifecycle: every département's table is a series of versions. A version is a
-- draft (editable), approved by a second person, published with an effective date, and
-- becomes active when that date comes: it is then copied into emergency.pdaau, the table
-- the router reads, and given the next TNAAU version number (active_seq). Versions are
-- never deleted: any earlier one can be viewed and published again (rollback).
CREATE TABLE emergency.pdaau_versions (
	id            bigserial PRIMARY KEY,
	departement   text NOT NULL CHECK (departement ~ '^([0-9]{2}|2[AB]|9[78][0-9])$'),
	state         text NOT NULL CHECK (state IN ('draft', 'approved', 'published', 'discarded')),
	source        text NOT NULL,            -- what made it: an upload's file name, an edit, socle apply, a rollback
	based_on      bigint REFERENCES emergency.pdaau_versions (id), -- the version in effect when it was drafted
	restored_from bigint REFERENCES emergency.pdaau_versions (id), -- set on a rollback
	created_by    text NOT NULL,
	created_at    timestamptz NOT NULL DEFAULT now(),
	editors       text[] NOT NULL,          -- everyone who changed the draft: none of them may approve it
	approved_by   text,
	approved_at   timestamptz,
	published_by  text,
	published_at  timestamptz,
	effective_at  timestamptz,
	active_seq    bigint UNIQUE,            -- the TNAAU version this version's activation made
	activated_at  timestamptz,
	CHECK ((state = 'published') = (published_at IS NOT NULL AND effective_at IS NOT NULL)),
	CHECK (active_seq IS NULL OR state = 'published')
);
CREATE INDEX pdaau_versions_departement ON emergency.pdaau_versions (departement, id DESC);
CREATE INDEX pdaau_versions_due ON emergency.pdaau_versions (effective_at) WHERE state = 'published' AND active_seq IS NULL;
CREATE SEQUENCE emergency.tnaau_seq;

CREATE TABLE emergency.pdaau_version_rows (
	version_id     bigint NOT NULL REFERENCES emergency.pdaau_versions (id),
	insee          text NOT NULL,
	number         text NOT NULL,
	routing_number text NOT NULL,
	PRIMARY KEY (version_id, insee, number)
);

-- The router's table, by département, so that an activation replaces one département.
ALTER TABLE emergency.pdaau ADD COLUMN departement text NOT NULL GENERATED ALWAYS AS (
	CASE WHEN insee LIKE '97%' OR insee LIKE '98%' THEN left(insee, 3) ELSE left(insee, 2) END) STORED;
CREATE INDEX pdaau_departement ON emergency.pdaau (departement);

-- Rows written before versions existed become each département's first version.
WITH deps AS (SELECT DISTINCT departement FROM emergency.pdaau ORDER BY departement),
v AS (
	INSERT INTO emergency.pdaau_versions (departement, state, source, created_by, editors, approved_by, approved_at,
		published_by, published_at, effective_at, active_seq, activated_at)
	SELECT departement, 'published', 'migration', 'socle', '{socle}', 'socle', now(), 'socle', now(), now(),
		nextval('emergency.tnaau_seq'), now() FROM deps
	RETURNING id, departement)
INSERT INTO emergency.pdaau_version_rows (version_id, insee, number, routing_number)
SELECT v.id, p.insee, p.number, p.routing_number FROM emergency.pdaau p JOIN v USING (departement);

-- Operators see the TNAAU only for the départements the CCED authorised them for ('*': all),
-- and are told of publications at their webhook (verified like their location server).
ALTER TABLE emergency.operators ADD COLUMN tnaau_departements text[] NOT NULL DEFAULT '{}',
	ADD COLUMN tnaau_webhook text;

-- Webhook deliveries, one per operator and published version, retried until delivered.
CREATE TABLE emergency.tnaau_notifications (
	id           bigserial PRIMARY KEY,
	operator_id  text NOT NULL REFERENCES emergency.operators (id) ON DELETE CASCADE,
	version_id   bigint NOT NULL REFERENCES emergency.pdaau_versions (id),
	attempts     int NOT NULL DEFAULT 0,
	next_at      timestamptz NOT NULL DEFAULT now(),
	delivered_at timestamptz,
	last_error   text,
	UNIQUE (operator_id, version_id)
);
CREATE INDEX tnaau_notifications_due ON emergency.tnaau_notifications (next_at) WHERE delivered_at IS NULL;
