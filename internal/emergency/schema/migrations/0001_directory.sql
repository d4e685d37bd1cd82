-- The directory: who may push (operators, by certificate and MCC/MNC), who receives (PSAPs),
-- and how a place and a number map to a PSAP (communes, PDAAU rows).
CREATE TABLE emergency.operators (
	id         text PRIMARY KEY,
	name       text NOT NULL,
	mcc_mnc    text[] NOT NULL,
	updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE emergency.psaps (
	id             text PRIMARY KEY,
	name           text NOT NULL,
	routing_number text NOT NULL UNIQUE CHECK (routing_number ~ '^[0-9]{10}$'),
	endpoint       text NOT NULL,
	ca_pem         text,
	updated_at     timestamptz NOT NULL DEFAULT now()
);

-- Client certificates bind an organisation to its TLS identity by SHA-256 fingerprint.
CREATE TABLE emergency.certificates (
	fingerprint text PRIMARY KEY,
	operator_id text REFERENCES emergency.operators (id) ON DELETE CASCADE,
	psap_id     text REFERENCES emergency.psaps (id) ON DELETE CASCADE,
	subject     text NOT NULL,
	not_after   timestamptz NOT NULL,
	pem         text NOT NULL,
	CHECK ((operator_id IS NULL) <> (psap_id IS NULL))
);

CREATE TABLE emergency.communes (
	code     text PRIMARY KEY,
	name     text NOT NULL,
	geometry jsonb NOT NULL -- GeoJSON MultiPolygon coordinates
);

-- No foreign key to communes: boundaries change every year and a PDAAU row may be orphaned
-- for a while; the import reports such rows rather than deleting them.
CREATE TABLE emergency.pdaau (
	insee          text NOT NULL,
	number         text NOT NULL,
	routing_number text NOT NULL REFERENCES emergency.psaps (routing_number) ON UPDATE CASCADE,
	PRIMARY KEY (insee, number)
);
