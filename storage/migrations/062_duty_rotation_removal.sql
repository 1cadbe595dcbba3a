-- Removing a rotation (a rota set up wrong, or no longer wanted), as an override is
-- removed (061): the row and its members stay, marked with who removed it and when.
-- Until then it was in effect (it may have paged someone), so "who was on duty at T"
-- still names its person for a T before the removal, and no moment after.
ALTER TABLE duty_rotations ADD COLUMN removed_at timestamptz;
ALTER TABLE duty_rotations ADD COLUMN removed_by text;
ALTER TABLE duty_rotations ADD CONSTRAINT duty_rotations_removed_both
    CHECK ((removed_at IS NULL) = (removed_by IS NULL));
