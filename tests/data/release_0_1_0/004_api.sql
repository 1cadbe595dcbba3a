-- The API: users, sessions, bearer tokens, login throttling, the audit log of reads,
-- the change feed behind the console's live list, and the indexes of the alert list.

CREATE TABLE users (
    username       text PRIMARY KEY CHECK (username ~ '^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$'),
    display_name   text NOT NULL,
    role           text NOT NULL CHECK (role IN ('admin', 'supervisor', 'advisor', 'family')),
    password_hash  text NOT NULL,  -- argon2id, PHC string format
    language       text NOT NULL DEFAULT 'zh-CN' CHECK (language IN ('zh-CN', 'en')),
    street         text,  -- the street office a supervisor watches
    created_at     timestamptz NOT NULL,
    disabled       boolean NOT NULL DEFAULT false
);

-- Console sessions. The cookie carries a random token; only its SHA-256 is stored, so a
-- leaked table cannot be replayed. A session ends at the first of: idle too long
-- (last_seen_at), too old (expires_at), logout (row deleted).
CREATE TABLE sessions (
    id            text PRIMARY KEY,  -- sha256 hex of the cookie's token
    username      text NOT NULL REFERENCES users (username) ON DELETE CASCADE,
    csrf_token    text NOT NULL,
    created_at    timestamptz NOT NULL,
    last_seen_at  timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL
);
CREATE INDEX sessions_username ON sessions (username);
CREATE INDEX sessions_expires ON sessions (expires_at);

-- Integration tokens, stored hashed like sessions; shown once when created.
CREATE TABLE api_tokens (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    token_hash    text NOT NULL UNIQUE,
    label         text NOT NULL,
    username      text NOT NULL REFERENCES users (username) ON DELETE CASCADE,
    created_at    timestamptz NOT NULL,
    last_used_at  timestamptz,
    revoked_at    timestamptz
);

-- Failed logins, counted per username and per client address over a sliding window.
CREATE TABLE login_failures (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at         timestamptz NOT NULL,
    username   text NOT NULL,  -- as typed: also counts guesses at names that do not exist
    client_ip  text NOT NULL
);
CREATE INDEX login_failures_username ON login_failures (username, at);
CREATE INDEX login_failures_client ON login_failures (client_ip, at);

-- Who read which resident's data, and when. Append-only, like alert_history.
CREATE TABLE audit_log (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at        timestamptz NOT NULL,
    username  text NOT NULL,
    action    text NOT NULL,
    resource  text NOT NULL,
    home_id   text
);
CREATE INDEX audit_log_home ON audit_log (home_id, id) WHERE home_id IS NOT NULL;

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only' USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE
    ON audit_log FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

-- Every change of an alert, whichever process made it, reaches the live console.
CREATE FUNCTION notify_alert_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('alert_changed', NEW.id::text);
    RETURN NULL;
END;
$$;
CREATE TRIGGER alert_changed AFTER INSERT OR UPDATE ON alerts
    FOR EACH ROW EXECUTE FUNCTION notify_alert_changed();

-- The console's order: most urgent first. Inlined by the planner, so the index below
-- serves queries that sort by it.
CREATE FUNCTION severity_rank(severity text) RETURNS integer
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE severity WHEN 'critical' THEN 0 WHEN 'high' THEN 1 WHEN 'medium' THEN 2
        WHEN 'low' THEN 3 ELSE 4 END
$$;

-- The active list (the hot path): a top-N read of the partial index, whatever the size
-- of the resolved history.
CREATE INDEX alerts_active_order ON alerts (severity_rank(severity), opened_at, id)
    WHERE state <> 'resolved';
-- Resolved and "all" lists of a few homes (an advisor's): newest first per home.
CREATE INDEX alerts_home_id ON alerts (home_id, id DESC);
-- Scopes: an advisor's or family member's homes, a street's homes.
CREATE INDEX alert_contacts_person ON alert_contacts (person_ref, role, home_id);
CREATE INDEX homes_street ON homes (street, id);
