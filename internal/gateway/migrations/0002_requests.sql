-- One row per API call, written in batches by the analytics writer of every replica (package
-- gateway/analytics) and read by the portal's charts. Partitioned by day (UTC days: a
-- partition covers [D 00:00 UTC, D+1 00:00 UTC)), so that the retention is a DROP TABLE of
-- whole days, client addresses included. Partitions are named requests_YYYYMMDD and created
-- ahead (today .. today+2) by analytics.Maintain; there is deliberately no default
-- partition: a call recorded for a day without its partition is an error to see, not a row
-- to hide where no purge would find it.
CREATE TABLE gateway.requests (
    time            timestamptz NOT NULL,
    request_id      text NOT NULL,
    replica         text NOT NULL DEFAULT '',
    consumer        text NOT NULL DEFAULT '',   -- '' when the caller is unknown
    api             text NOT NULL,
    operation       text NOT NULL DEFAULT '',   -- OpenAPI operationId or SOAP operation
    method          text NOT NULL,
    status          integer NOT NULL,           -- what the client got
    upstream_status integer NOT NULL DEFAULT 0, -- 0 when no upstream answered
    origin          text NOT NULL DEFAULT ''    -- who failed; '' when nothing did
                    CHECK (origin IN ('', 'gateway', 'network', 'upstream')),
    error           text NOT NULL DEFAULT '',   -- short reason
    latency_us      integer NOT NULL,
    upstream_us     integer NOT NULL DEFAULT 0,
    bytes_in        bigint NOT NULL DEFAULT 0,
    bytes_out       bigint NOT NULL DEFAULT 0,
    client_ip       inet                        -- personal data: goes with its partition
) PARTITION BY RANGE (time);

-- Rows arrive in time order, so a BRIN index is a few pages per day and enough to find a
-- range within a partition.
CREATE INDEX requests_time ON gateway.requests USING brin (time);
