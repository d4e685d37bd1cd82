-- Which operator serves a number: the numbering plan's blocks (ARCEP), overridden by ported
-- numbers. Operators answer location queries (HELD) at their location endpoint.
ALTER TABLE emergency.operators ADD COLUMN location_endpoint text, ADD COLUMN location_ca_pem text;

CREATE TABLE emergency.number_blocks (
	prefix      text PRIMARY KEY CHECK (prefix ~ '^[0-9]{2,15}$'), -- E.164 digits, country code first
	operator_id text NOT NULL REFERENCES emergency.operators (id) ON DELETE CASCADE,
	kind        text NOT NULL CHECK (kind IN ('mobile', 'fixed'))
);

CREATE TABLE emergency.ported_numbers (
	number      text PRIMARY KEY CHECK (number ~ '^[0-9]{6,15}$'),
	operator_id text NOT NULL REFERENCES emergency.operators (id) ON DELETE CASCADE,
	updated_at  timestamptz NOT NULL DEFAULT now()
);
