-- A finding carries the figures behind its explanation (its kind's params), so each
-- reader gets the text in their own language; the alert keeps its latest finding's.
-- The English explanation stays, as the fallback for what cannot be rendered.
ALTER TABLE findings ADD COLUMN params jsonb NOT NULL DEFAULT '{}';
ALTER TABLE alerts ADD COLUMN params jsonb NOT NULL DEFAULT '{}';
