-- Accounts: tokens expire and can be revoked by whom; users can be disabled (when and by
-- whom is kept) and change their password.
ALTER TABLE api_tokens ADD COLUMN expires_at timestamptz;
ALTER TABLE api_tokens ADD COLUMN revoked_by text;
-- Tokens made before tokens expired get the default lifetime from now on.
UPDATE api_tokens SET expires_at = now() + interval '90 days' WHERE expires_at IS NULL;
ALTER TABLE api_tokens ALTER COLUMN expires_at SET NOT NULL;
CREATE INDEX api_tokens_username ON api_tokens (username, id);

ALTER TABLE users ADD COLUMN disabled_at timestamptz;
ALTER TABLE users ADD COLUMN disabled_by text;
ALTER TABLE users ADD COLUMN password_changed_at timestamptz;
