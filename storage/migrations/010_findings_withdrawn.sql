-- A finding can be withdrawn: data that arrived late (a meter's batched upload, a device
-- back from an outage) contradicts it (DESIGN.md, Time). The withdrawal is a finding of
-- its own (clears = true, withdrawn = true) so the alert stage takes it exactly once, like
-- any other, and resolves the alert with the reason in its history.
ALTER TABLE findings ADD COLUMN withdrawn boolean NOT NULL DEFAULT false;
DROP INDEX findings_identity;
CREATE UNIQUE INDEX findings_identity ON findings (home_id, kind, at, clears, withdrawn);
