-- Sign-in throttling (OWASP ASVS V2.2): an atomic failure counter per account name (as
-- typed, so guesses at names that do not exist count too) and per client address, with
-- the moment the next attempt is allowed. Delays grow with the failures instead of a hard
-- lock-out anyone could trigger; a success resets the account's counter.
DROP TABLE login_failures;
CREATE TABLE login_throttle (
    key              text PRIMARY KEY,  -- 'user:<name>' or 'addr:<client address>'
    failures         integer NOT NULL DEFAULT 0 CHECK (failures >= 0),
    last_failure_at  timestamptz,
    next_attempt_at  timestamptz  -- NULL: no wait
);
-- Counters idle past the reset window are forgotten (a few at a time, by the failures).
CREATE INDEX login_throttle_stale ON login_throttle (last_failure_at);
