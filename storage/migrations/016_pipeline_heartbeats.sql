-- Ingest's heartbeats that went through the broker and came back (core/pipeline.py): the
-- pipeline's health from positive evidence. Times are on the pipeline's clock. A worker's
-- seq goes on from its last committed one after a restart, and a previous run's heartbeat
-- redelivered late may carry the same seq: (worker, sent_at, seq) tells them apart.
-- Each worker keeps its latest rows only (storage/heartbeats.py trims as it writes).
CREATE TABLE pipeline_heartbeats (
    worker        text NOT NULL,
    seq           bigint NOT NULL,
    sent_at       timestamptz NOT NULL,
    received_at   timestamptz NOT NULL,
    committed_at  timestamptz NOT NULL,
    PRIMARY KEY (worker, sent_at, seq)
);
