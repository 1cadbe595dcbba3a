-- Findings become alerts exactly once: the alert stage marks each finding taken in the
-- same transaction as the alert change it caused. A crash before the commit leaves the
-- finding untaken, and it is taken again after the restart.
ALTER TABLE findings ADD COLUMN taken_at timestamptz;
-- Findings stored before this migration are history: nobody should be paged for them.
UPDATE findings SET taken_at = recorded_at;
-- The untaken findings, by (home, kind) in id order: what the alert stage scans, and
-- how it checks that nothing older is pending for a critical finding's home and kind.
CREATE INDEX findings_untaken ON findings (home_id, kind, id) WHERE taken_at IS NULL;
