-- Ported numbers are answered from memory by the location pull: every node holds each
-- operator's set in an index, and reloads an operator's numbers when its version moves. An
-- upload bumps, in its own transaction, the version of every operator whose set it changes
-- (the uploader, and whoever lost numbers to it) and NOTIFYs socle_emergency_porting with
-- "operator:version"; a node that missed notifications compares versions after reconnecting.
CREATE TABLE emergency.porting_versions (
	operator_id text PRIMARY KEY REFERENCES emergency.operators (id) ON DELETE CASCADE,
	version     bigint NOT NULL
);

-- Numbers declared before versions existed are version 1 of their operator's set.
INSERT INTO emergency.porting_versions (operator_id, version)
SELECT DISTINCT operator_id, 1 FROM emergency.ported_numbers;

-- A reload reads one operator's numbers, and an upload deletes and counts the uploader's:
-- without this index each of them scans every operator's numbers.
CREATE INDEX ported_numbers_operator ON emergency.ported_numbers (operator_id);
