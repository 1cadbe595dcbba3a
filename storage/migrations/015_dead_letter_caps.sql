-- One device must not fill the disk with garbage (issue 11, point 6). A dead letter keeps
-- at most the first DEAD_LETTER_KEEP_BYTES of its payload, with the payload's full size
-- and SHA-256 (enough to tell repeats apart and to match a capture); past a per-device
-- rate only counts are kept, in dead_letter_counts.
ALTER TABLE dead_letters
    ADD COLUMN device_id      text,     -- the device its topic names; NULL when none
    ADD COLUMN payload_bytes  integer,  -- the payload's size as received (ingest always
    ADD COLUMN payload_sha256 bytea;    -- writes both; of the whole payload as received)
UPDATE dead_letters SET payload_bytes = octet_length(payload), payload_sha256 = sha256(payload);
-- Letters stored before the cap give their space back too.
UPDATE dead_letters SET payload = substring(payload FROM 1 FOR 2048)
    WHERE octet_length(payload) > 2048;

-- Every dead letter counted, per device, hour of arrival and kind of reason (`schema`,
-- not `schema: ts missing`): `kept` of them are in dead_letters, the rest only here.
CREATE TABLE dead_letter_counts (
    device_id  text NOT NULL,         -- '' when the topic names no device
    hour       timestamptz NOT NULL,  -- the hour the letters arrived in
    reason     text NOT NULL,
    rejected   bigint NOT NULL,
    kept       bigint NOT NULL,
    PRIMARY KEY (device_id, hour, reason)
);
CREATE INDEX dead_letter_counts_hour ON dead_letter_counts (hour);
