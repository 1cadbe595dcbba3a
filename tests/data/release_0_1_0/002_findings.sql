-- What detectors found, their saved state, and declared away periods.

-- home_id is a home, or `*` for a finding about the whole pipeline (hence no foreign key).
CREATE TABLE findings (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    home_id      text NOT NULL,
    category     text NOT NULL CHECK (category IN
                   ('inactivity', 'leak', 'smoke', 'wandering', 'routine', 'device', 'system')),
    kind         text NOT NULL,
    severity     text NOT NULL CHECK (severity IN ('critical', 'high', 'medium', 'low', 'info')),
    at           timestamptz NOT NULL,  -- event time the finding was raised
    explanation  text NOT NULL,
    clears       boolean NOT NULL DEFAULT false,
    recorded_at  timestamptz NOT NULL DEFAULT now()
);
-- Detectors are deterministic in event time: replaying readings after a restart raises the
-- same finding at the same moment, and this key turns it into a no-op.
CREATE UNIQUE INDEX findings_identity ON findings (home_id, kind, at, clears);
CREATE INDEX findings_at ON findings (at);

-- One row per home: the detectors' state as of `through`, the event time of the last
-- reading it reflects. A restart restores it and replays readings after `through`.
-- The key `_engine` holds the engine-wide part (the pipeline guard).
CREATE TABLE detector_state (
    home_id   text PRIMARY KEY,
    state     jsonb NOT NULL,
    through   timestamptz NOT NULL,
    saved_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE away_periods (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    home_id      text NOT NULL REFERENCES homes (id),
    starts_at    timestamptz NOT NULL,
    ends_at      timestamptz NOT NULL CHECK (ends_at > starts_at),
    note         text,
    declared_by  text,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX away_periods_home ON away_periods (home_id, ends_at);

-- Detectors replay every home's readings after a moment when they restart.
CREATE INDEX readings_ts ON readings (ts);
