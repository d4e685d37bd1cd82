-- Every AML message received, with its raw bytes and findings. Location and identifiers are
-- purged after the retention period (purged_at set); the row itself stays as the audit of
-- who sent what when.
CREATE TABLE emergency.aml_messages (
	id               uuid PRIMARY KEY,
	operator_id      text NOT NULL,
	received_at      timestamptz NOT NULL DEFAULT now(),
	dedupe_key       bytea,
	status           text NOT NULL CHECK (status IN ('accepted', 'unusable', 'forbidden')),
	format           text NOT NULL,
	content_type     text NOT NULL,
	raw              bytea,
	device_number    text,
	emergency_number text,
	latitude         float8,
	longitude        float8,
	accuracy_m       float8,
	confidence_pct   int,
	located_at       timestamptz,
	location_source  text,
	imei             text,
	imsi             text,
	network_mcc      text,
	network_mnc      text,
	findings         jsonb NOT NULL DEFAULT '[]',
	repeats          int NOT NULL DEFAULT 0,
	purged_at        timestamptz
);
CREATE UNIQUE INDEX aml_messages_dedupe ON emergency.aml_messages (dedupe_key);
CREATE INDEX aml_messages_unpurged ON emergency.aml_messages (received_at) WHERE purged_at IS NULL;

-- The outbox, and afterwards the record of who received which message when.
CREATE TABLE emergency.deliveries (
	message_id     uuid PRIMARY KEY REFERENCES emergency.aml_messages (id),
	state          text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'expired')),
	due_at         timestamptz NOT NULL DEFAULT now(),
	expires_at     timestamptz NOT NULL,
	attempts       int NOT NULL DEFAULT 0,
	last_error     text,
	commune        text,
	psap_id        text,
	routing_number text,
	route          text,
	http_status    int,
	delivered_at   timestamptz
) WITH (fillfactor = 80);
CREATE INDEX deliveries_due ON emergency.deliveries (due_at) WHERE state = 'pending';
