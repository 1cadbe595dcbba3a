-- Duty rotations per street (as on-call tools have them): who can be on duty and how to
-- reach them, the rotations (a street's tier and layer, the advisors in turn, the first
-- handoff and the shift length, an optional daily window and weekdays), and overrides
-- (a person covering a street from one moment to another). core/duty.py decides who is
-- on duty from these rows; alert routing sends a street's advisor messages to them.
CREATE TABLE duty_people (
    person_ref  text PRIMARY KEY CHECK (char_length(person_ref) BETWEEN 1 AND 64),
    language    text NOT NULL DEFAULT 'zh-CN' CHECK (language IN ('zh-CN', 'en')),
    sms         text,
    email       text,
    updated_at  timestamptz NOT NULL,
    CHECK (sms IS NOT NULL OR email IS NOT NULL)
);

CREATE TABLE duty_rotations (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    street        text NOT NULL CHECK (char_length(street) BETWEEN 1 AND 200),
    tier          text NOT NULL DEFAULT 'primary' CHECK (tier IN ('primary', 'backup')),
    layer         text NOT NULL CHECK (char_length(layer) BETWEEN 1 AND 40),
    timezone      text NOT NULL,
    start_at      timestamptz NOT NULL,  -- the first handoff
    shift_s       integer NOT NULL CHECK (shift_s BETWEEN 900 AND 2419200),
    window_start  time,  -- local, both or neither; may span midnight
    window_end    time,
    days          smallint[] NOT NULL DEFAULT '{1,2,3,4,5,6,7}',  -- ISO weekdays
    priority      integer NOT NULL DEFAULT 0,
    created_at    timestamptz NOT NULL,
    created_by    text NOT NULL,
    CHECK ((window_start IS NULL) = (window_end IS NULL))
);
CREATE INDEX duty_rotations_street ON duty_rotations (street, tier);

CREATE TABLE duty_rotation_members (
    rotation_id  bigint NOT NULL REFERENCES duty_rotations (id) ON DELETE CASCADE,
    position     smallint NOT NULL CHECK (position >= 0),
    person_ref   text NOT NULL REFERENCES duty_people (person_ref),
    PRIMARY KEY (rotation_id, position)
);

CREATE TABLE duty_overrides (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    street      text NOT NULL CHECK (char_length(street) BETWEEN 1 AND 200),
    tier        text NOT NULL DEFAULT 'primary' CHECK (tier IN ('primary', 'backup')),
    person_ref  text NOT NULL REFERENCES duty_people (person_ref),
    start_at    timestamptz NOT NULL,
    end_at      timestamptz NOT NULL,
    reason      text CHECK (char_length(reason) <= 200),
    created_at  timestamptz NOT NULL,
    created_by  text NOT NULL,
    CHECK (end_at > start_at)
);
CREATE INDEX duty_overrides_street ON duty_overrides (street, end_at);

-- Replies to alert SMS (the SMS gateway's inbound webhook), once per gateway message id:
-- what was asked, which alert it was matched to, and what came of it.
CREATE TABLE sms_replies (
    message_id   text PRIMARY KEY,
    sender       text NOT NULL,
    body         text NOT NULL,
    received_at  timestamptz NOT NULL,
    alert_id     bigint REFERENCES alerts (id),
    actor        text,
    outcome      text NOT NULL,
    reply        text NOT NULL
);
CREATE INDEX sms_replies_sender ON sms_replies (sender, received_at);
