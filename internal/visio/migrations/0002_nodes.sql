-- Several media nodes (issue 17): each `socle serve --services visio` process reports its load
-- here every few seconds, and each meeting's room is placed on one of them. PostgreSQL, not
-- a NATS key-value bucket: two nodes form no JetStream quorum once one of them is gone, and
-- surviving the loss of a node is the point (docs/visio-nodes.md).
CREATE TABLE visio.nodes (
	id                 text PRIMARY KEY,
	seen_at            timestamptz NOT NULL, -- its last report; a node silent for three reports is gone
	cpu                real NOT NULL DEFAULT 0, -- the process' CPU, in cores, over the last report
	packets_per_second real NOT NULL DEFAULT 0, -- RTP packets forwarded by its SFU
	participants       int NOT NULL DEFAULT 0,
	rooms              int NOT NULL DEFAULT 0,
	max_participants   int NOT NULL DEFAULT 0 -- 0: no limit
);

-- Which node holds a room's meeting: created if absent (the first placer wins), moved by
-- compare-and-set when its node is gone, deleted when the meeting ends. Room names stay here
-- only while their meeting lasts.
CREATE TABLE visio.placements (
	room      text PRIMARY KEY,
	node      text NOT NULL,
	placed_at timestamptz NOT NULL DEFAULT now()
);

-- The node that held each conference, for the statistics.
ALTER TABLE visio.conferences ADD COLUMN node text;
