-- One open version per département: a draft, or an approved version not yet published. Two
-- drafts of one table at once are two people's work of which one would be lost, and drafts
-- left behind pile up; the open version is where editors meet, and is discarded to start
-- again. The partial unique index enforces it whoever writes, so that of two uploads at
-- once only one makes a draft: the other fails, and is told which version is open.
-- A rollback or `socle apply` makes a version published at once, never open: they work
-- whatever is open.

-- Who set a version aside, and when, stays with it.
ALTER TABLE emergency.pdaau_versions ADD COLUMN discarded_by text, ADD COLUMN discarded_at timestamptz;

-- Open versions piled up before this rule: the newest of each département stays open, the
-- others are discarded (they stay in the history).
UPDATE emergency.pdaau_versions v SET state = 'discarded', discarded_by = 'socle', discarded_at = now()
WHERE state IN ('draft', 'approved') AND EXISTS (
	SELECT 1 FROM emergency.pdaau_versions n
	WHERE n.departement = v.departement AND n.state IN ('draft', 'approved') AND n.id > v.id);

CREATE UNIQUE INDEX pdaau_versions_one_open ON emergency.pdaau_versions (departement)
	WHERE state IN ('draft', 'approved');
