-- Retention and erasure (issue 13, points 7 and 8). The audit log and the alert history
-- stay append-only for everything the system does, with two sanctioned exceptions, each
-- taken only inside a transaction that says so with SET LOCAL (storage/retention.py and
-- storage/erasure.py, nothing else):
--   eldercare.lifecycle = 'retention'  deletes entries past their retention period; the
--                                      run writes its own audit entry in the same
--                                      transaction as each batch it deletes;
--   eldercare.lifecycle = 'erasure'    clears the free text of an erased resident's
--                                      alert history (comments may name them).
-- TRUNCATE, and every other update or delete, is refused as before.
CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('eldercare.lifecycle', true) = 'retention' THEN
        RETURN NULL;  -- a statement trigger: returning lets the statement go ahead
    END IF;
    RAISE EXCEPTION 'audit_log is append-only' USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE OR REPLACE FUNCTION alert_history_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (TG_OP = 'DELETE' AND current_setting('eldercare.lifecycle', true) = 'retention')
       OR (TG_OP = 'UPDATE' AND current_setting('eldercare.lifecycle', true) = 'erasure') THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'alert_history is append-only' USING ERRCODE = 'insufficient_privilege';
END;
$$;

-- Retention deletes by age: these are the columns it asks.
CREATE INDEX alerts_resolved_at ON alerts (resolved_at) WHERE state = 'resolved';
CREATE INDEX alert_deliveries_digest ON alert_deliveries (digest_id) WHERE digest_id IS NOT NULL;
CREATE INDEX alert_deliveries_created ON alert_deliveries (created_at) WHERE alert_id IS NULL;
CREATE INDEX alert_delivery_attempts_delivery ON alert_delivery_attempts (delivery_id);
CREATE INDEX alerts_reopened_from ON alerts (reopened_from) WHERE reopened_from IS NOT NULL;

-- An erased resident: the row stays (ids in the audit log keep meaning something), its
-- personal fields are cleared, and when and by whom is kept.
ALTER TABLE residents ADD COLUMN erased_at timestamptz;
ALTER TABLE residents ADD COLUMN erased_by text;
