-- Removing an override (a cover entered for the wrong person or the wrong dates): the row
-- stays, marked with who removed it and when, as a revoked token is. Until it was removed
-- it was in effect (it may have paged someone), so "who was on duty at T" still names it
-- for a T before the removal, and no moment after.
ALTER TABLE duty_overrides ADD COLUMN removed_at timestamptz;
ALTER TABLE duty_overrides ADD COLUMN removed_by text;
ALTER TABLE duty_overrides ADD CONSTRAINT duty_overrides_removed_both
    CHECK ((removed_at IS NULL) = (removed_by IS NULL));
