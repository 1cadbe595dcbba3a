-- What an advisor on the way needs (issue 12): where exactly the home is, who holds a
-- key, and a few short care notes. Shown only to the home's advisors, its street office
-- and admins (family: their relative's name and age); every read is audited.
ALTER TABLE homes ADD COLUMN building text CHECK (char_length(building) <= 50);
ALTER TABLE homes ADD COLUMN floor text CHECK (char_length(floor) <= 10);
ALTER TABLE homes ADD COLUMN unit text CHECK (char_length(unit) <= 20);
ALTER TABLE residents ADD COLUMN key_holder_name text CHECK (char_length(key_holder_name) <= 100);
ALTER TABLE residents ADD COLUMN key_holder_phone text CHECK (char_length(key_holder_phone) <= 30);
-- Short notes, one per topic: hearing, mobility, medication, pets, other.
ALTER TABLE residents ADD COLUMN care_notes jsonb NOT NULL DEFAULT '{}';
