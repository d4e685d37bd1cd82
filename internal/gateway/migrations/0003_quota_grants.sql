-- A replica takes several calls of a window's budget at once when much of it is left (a
-- lease: package quota), and the statement that grants them says how many it granted.
ALTER TABLE gateway.quota_usage ADD COLUMN granted integer NOT NULL DEFAULT 1;
