-- The audit log without gaps: every home whose data a request returned (a list read
-- names them all), the home it asked for (which may differ: an out-of-scope request
-- reads nothing), and refused attempts with the reason, tied to the user.
ALTER TABLE audit_log ADD COLUMN home_ids text[] NOT NULL DEFAULT '{}';
ALTER TABLE audit_log ADD COLUMN requested_home text;
ALTER TABLE audit_log ADD COLUMN outcome text NOT NULL DEFAULT 'read'
    CHECK (outcome IN ('read', 'refused'));
ALTER TABLE audit_log ADD COLUMN reason text;  -- why refused (an API error code)
-- Entries written before: their one home is the home read. The log is append-only, so
-- the trigger steps aside for this one statement of the migration.
ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only;
UPDATE audit_log SET home_ids = ARRAY[home_id], requested_home = home_id
    WHERE home_id IS NOT NULL;
ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only;
-- The supervisor's view filters by home (any of those read, or asked for), user, time.
CREATE INDEX audit_log_home_ids ON audit_log USING gin (home_ids);
CREATE INDEX audit_log_requested ON audit_log (requested_home, id)
    WHERE requested_home IS NOT NULL;
CREATE INDEX audit_log_user ON audit_log (username, id);
CREATE INDEX audit_log_at ON audit_log (at);
