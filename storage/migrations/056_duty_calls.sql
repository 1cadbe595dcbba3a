-- Advisors on duty may also be phoned when an alert reaches them: an escalation call they
-- answer with a key press (1 acknowledge, 3 pass on), recorded like a console action.
ALTER TABLE duty_people ADD COLUMN call boolean NOT NULL DEFAULT false;
ALTER TABLE alert_deliveries DROP CONSTRAINT alert_deliveries_purpose_check;
ALTER TABLE alert_deliveries ADD CONSTRAINT alert_deliveries_purpose_check
    CHECK (purpose IN ('alert', 'checkin', 'digest', 'note', 'call'));
