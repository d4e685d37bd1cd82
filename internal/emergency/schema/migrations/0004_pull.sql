-- Location pull: the newest fix per caller number answers PSAP queries first.
CREATE INDEX aml_messages_device ON emergency.aml_messages (device_number, received_at DESC)
	WHERE status = 'accepted' AND device_number IS NOT NULL;

-- Every HELD query, with who asked: the audit trail. The number is erased with the other
-- personal data after the retention period; who asked, when and with what outcome stays.
CREATE TABLE emergency.pull_queries (
	id          bigserial PRIMARY KEY,
	at          timestamptz NOT NULL DEFAULT now(),
	psap_id     text NOT NULL,
	device      text,
	source      text NOT NULL CHECK (source IN ('aml', 'operator', 'none')),
	outcome     text NOT NULL, -- "located" or a HELD error code
	message_id  uuid,          -- the AML message that answered, if one did
	duration_ms float8 NOT NULL,
	purged_at   timestamptz
);
CREATE INDEX pull_queries_unpurged ON emergency.pull_queries (at) WHERE purged_at IS NULL;
