-- Alerts: lifecycle and history, routing contacts, escalation policies, the outbox of
-- deliveries and every delivery attempt (DESIGN.md: alerts, delivery guarantees).
--
-- home_id columns here carry no foreign key to homes: system-wide alerts (the pipeline
-- guard) and the operations desk that receives them use the pseudo home '*', which the
-- homes table rightly refuses.

CREATE TABLE alerts (
    id                    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    home_id               text NOT NULL,
    category              text NOT NULL CHECK (category IN
        ('inactivity', 'leak', 'smoke', 'wandering', 'routine', 'device', 'system')),
    kind                  text NOT NULL,
    severity              text NOT NULL CHECK (severity IN
        ('critical', 'high', 'medium', 'low', 'info')),
    state                 text NOT NULL CHECK (state IN ('open', 'acknowledged', 'resolved')),
    explanation           text NOT NULL,
    first_seen_at         timestamptz NOT NULL,  -- event time of the first finding
    last_seen_at          timestamptz NOT NULL,  -- event time of the latest repeat
    occurrences           integer NOT NULL DEFAULT 1 CHECK (occurrences >= 1),
    opened_at             timestamptz NOT NULL,
    reopened_from         bigint REFERENCES alerts (id),
    acknowledged_at       timestamptz,
    acknowledged_by       text,
    claimed_at            timestamptz,
    claimed_by            text,
    expected_arrival_at   timestamptz,
    arrived_at            timestamptz,
    arrived_by            text,
    resolved_at           timestamptz,
    resolved_by           text,
    outcome               text CHECK (outcome IN ('resident_ok', 'assisted',
        'emergency_services', 'false_alarm', 'device_fault', 'away', 'other',
        'condition_cleared')),
    resolution_note       text,
    condition_cleared_at  timestamptz,
    escalation_step       integer NOT NULL DEFAULT -1,  -- last step notified; -1 none yet
    escalation_due_at     timestamptz,  -- when the sweeper must look again; NULL: nothing due
    CHECK ((state = 'resolved') = (resolved_at IS NOT NULL AND outcome IS NOT NULL))
);
-- One active alert per (home, kind): repeats update it. Also the last line of defence
-- when two processes take in the same finding at once.
CREATE UNIQUE INDEX alerts_one_active ON alerts (home_id, kind) WHERE state <> 'resolved';
CREATE INDEX alerts_recent_resolved ON alerts (home_id, kind, resolved_at DESC)
    WHERE state = 'resolved';
CREATE INDEX alerts_escalation_due ON alerts (escalation_due_at)
    WHERE escalation_due_at IS NOT NULL;
CREATE INDEX alerts_home_opened ON alerts (home_id, opened_at DESC);

-- Every transition, comment, escalation step and check-in answer. Append-only: the
-- trigger refuses updates and deletes so the record of who did what cannot be rewritten.
CREATE TABLE alert_history (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    alert_id    bigint NOT NULL REFERENCES alerts (id),
    at          timestamptz NOT NULL,
    actor       text NOT NULL,
    action      text NOT NULL,
    from_state  text,
    to_state    text,
    detail      jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX alert_history_alert ON alert_history (alert_id, id);

CREATE FUNCTION alert_history_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'alert_history is append-only' USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER alert_history_append_only BEFORE UPDATE OR DELETE OR TRUNCATE
    ON alert_history FOR EACH STATEMENT EXECUTE FUNCTION alert_history_append_only();

-- Who hears about a home: advisors, the supervisor (street office), family in order,
-- the emergency step; home_id '*' holds the operations desk for system problems.
-- The resident is reached through residents.phone. Endpoints left NULL are not used.
CREATE TABLE alert_contacts (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    home_id      text NOT NULL,
    role         text NOT NULL CHECK (role IN ('primary_advisor', 'backup_advisor',
        'supervisor', 'family', 'emergency', 'operations')),
    position     smallint NOT NULL DEFAULT 0 CHECK (position >= 0),  -- order within a role
    person_ref   text NOT NULL,  -- a user name or another stable reference, never a name
    language     text NOT NULL DEFAULT 'zh-CN' CHECK (language IN ('zh-CN', 'en')),
    sms          text,
    email        text,
    webhook_url  text,
    quiet_start  time,  -- local time in the home's time zone; both or neither
    quiet_end    time,
    UNIQUE (home_id, role, position),
    CHECK ((quiet_start IS NULL) = (quiet_end IS NULL)),
    CHECK (sms IS NOT NULL OR email IS NOT NULL OR webhook_url IS NOT NULL)
);

-- Escalation policies that differ from the built-in defaults (alerts/policy.py).
CREATE TABLE alert_policies (
    name        text PRIMARY KEY CHECK (name IN
        ('critical', 'high', 'medium', 'low', 'info', 'system')),
    policy      jsonb NOT NULL,
    updated_at  timestamptz NOT NULL,
    updated_by  text NOT NULL
);

-- The outbox: written in the same transaction as the alert change that decided it.
-- status: pending (due at next_attempt_at; held_reason says why it waits), sending (a
-- dispatcher holds it until lease_until), sent, failed (gave up; raises a system alert),
-- digested (goes out inside a digest), cancelled (held for quiet hours, and the alert
-- was resolved meanwhile).
CREATE TABLE alert_deliveries (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    idempotency_key  uuid NOT NULL UNIQUE DEFAULT gen_random_uuid(),
    alert_id         bigint REFERENCES alerts (id),  -- NULL for a digest
    home_id          text NOT NULL,  -- '*' for a digest spanning homes
    purpose          text NOT NULL CHECK (purpose IN ('alert', 'checkin', 'digest', 'note')),
    severity         text NOT NULL,
    channel          text NOT NULL CHECK (channel IN ('sms', 'email', 'webhook', 'voice')),
    address          text NOT NULL,
    recipient_role   text NOT NULL,
    recipient_ref    text NOT NULL,
    language         text NOT NULL,
    timezone         text NOT NULL,  -- the recipient's home's, for quiet hours and digests
    quiet_start      time,  -- a snapshot of the recipient's quiet hours when decided
    quiet_end        time,
    subject          text NOT NULL,
    body_text        text NOT NULL,
    body_html        text,
    summary          text NOT NULL,  -- one line for a digest
    payload          jsonb NOT NULL DEFAULT '{}',  -- channel extras (the call's script, ...)
    status           text NOT NULL CHECK (status IN
        ('pending', 'sending', 'sent', 'failed', 'digested', 'cancelled')),
    held_reason      text,
    attempts         integer NOT NULL DEFAULT 0,
    max_attempts     integer NOT NULL CHECK (max_attempts >= 1),
    next_attempt_at  timestamptz NOT NULL,
    lease_until      timestamptz,
    created_at       timestamptz NOT NULL,
    sent_at          timestamptz,
    failed_at        timestamptz,
    provider_ref     text,
    last_error       text,
    digest_id        bigint REFERENCES alert_deliveries (id),
    reply            text,  -- a check-in call's answer: fine, help, no_answer
    replied_at       timestamptz
);
CREATE INDEX alert_deliveries_due ON alert_deliveries (next_attempt_at)
    WHERE status IN ('pending', 'sending');
CREATE INDEX alert_deliveries_recipient ON alert_deliveries (address, home_id, created_at);
CREATE INDEX alert_deliveries_undigested ON alert_deliveries (channel, address)
    WHERE status = 'digested' AND digest_id IS NULL;
CREATE INDEX alert_deliveries_alert ON alert_deliveries (alert_id);

-- One row per try, written before the send (outcome 'started') and completed after,
-- so a crash mid-send leaves a record that a message may have gone out.
CREATE TABLE alert_delivery_attempts (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    delivery_id  bigint NOT NULL REFERENCES alert_deliveries (id),
    attempt      integer NOT NULL,
    started_at   timestamptz NOT NULL,
    finished_at  timestamptz,
    outcome      text NOT NULL CHECK (outcome IN
        ('started', 'sent', 'retry', 'failed', 'abandoned')),
    status_code  integer,
    detail       text,
    UNIQUE (delivery_id, attempt)
);
