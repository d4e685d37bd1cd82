-- Why a query was not answered with a location, as the PSAP was told (the HELD error's
-- message): an operator's failure, a refused location reference, a stale fix.
ALTER TABLE emergency.pull_queries ADD COLUMN reason text;
