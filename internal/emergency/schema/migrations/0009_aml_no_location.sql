-- A message saying the handset had no position (AML SMS pm=N, zero coordinates) is kept as
-- the record of a call, with its own status: never routed, delivered or served as a location.
ALTER TABLE emergency.aml_messages DROP CONSTRAINT aml_messages_status_check;
ALTER TABLE emergency.aml_messages ADD CONSTRAINT aml_messages_status_check
	CHECK (status IN ('accepted', 'unusable', 'forbidden', 'no_location'));
