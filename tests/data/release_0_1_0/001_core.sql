-- Registry, readings, device state and dead letters: what ingest needs.

CREATE TABLE homes (
    id          text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9_-]{1,64}$'),
    address     text,
    street      text,
    district    text,
    timezone    text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE residents (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    home_id       text NOT NULL REFERENCES homes (id),
    display_name  text NOT NULL,
    birth_year    integer CHECK (birth_year BETWEEN 1900 AND 2100),
    language      text NOT NULL DEFAULT 'zh-CN',
    phone         text,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX residents_home_id ON residents (home_id);

CREATE TABLE devices (
    id            text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9_-]{1,64}$'),
    type          text NOT NULL CHECK (type IN ('water_meter', 'pir', 'smoke')),
    home_id       text NOT NULL REFERENCES homes (id),
    room          text,
    installed_at  timestamptz NOT NULL DEFAULT now(),
    active        boolean NOT NULL DEFAULT true
);
CREATE INDEX devices_home_id ON devices (home_id);

-- Ingest caches device -> (type, home); this tells every ingest worker to forget it.
CREATE FUNCTION notify_devices_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('devices_changed', '');
    RETURN NULL;
END;
$$;
CREATE TRIGGER devices_changed AFTER INSERT OR UPDATE OR DELETE ON devices
    FOR EACH STATEMENT EXECUTE FUNCTION notify_devices_changed();

-- Every accepted message, typed. home_id is the device's home when the message arrived,
-- so history stays with the home after a device moves. No foreign keys: ingest has
-- validated each row, and a key check per row would halve the write rate.
CREATE TABLE readings (
    device_id    text NOT NULL,
    home_id      text NOT NULL,
    ts           timestamptz NOT NULL,
    seq          bigint NOT NULL,
    received_at  timestamptz NOT NULL,
    channel      text NOT NULL,
    volume_l     double precision,
    flow_lpm     real,
    motion       boolean,
    room         text,
    alarm        boolean,
    test         boolean,
    battery_pct  real,
    online       boolean,
    rssi_dbm     real,
    fw           text
);
-- The idempotency key of the wire contract; redelivered messages conflict here.
CREATE UNIQUE INDEX readings_device_ts_seq ON readings (device_id, ts, seq);
CREATE INDEX readings_home_ts ON readings (home_id, ts);

CREATE TABLE device_state (
    device_id         text PRIMARY KEY REFERENCES devices (id) ON DELETE CASCADE,
    last_seen_at      timestamptz NOT NULL,  -- latest measurement time heard
    last_seq          bigint NOT NULL,
    last_received_at  timestamptz NOT NULL,
    battery_pct       real,
    battery_at        timestamptz,
    online            boolean,
    status_at         timestamptz,
    status_seq        bigint,
    rssi_dbm          real,
    fw                text
);

CREATE TABLE dead_letters (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    topic        text NOT NULL,
    payload      bytea NOT NULL,
    reason       text NOT NULL,
    received_at  timestamptz NOT NULL
);
CREATE INDEX dead_letters_received_at ON dead_letters (received_at);
