-- The transactional outbox: notices to other systems, written in the transaction of the change
-- that causes them and delivered by a background worker (see src/outbox). `topic` says what a
-- message is (`identity.lifecycle`); `payload` is the topic's JSON. A worker claims a row by
-- setting `locked_until`/`locked_by` (a lease, so that replicas never deliver it at once).
CREATE TABLE outbox_messages (
    id uuid PRIMARY KEY,
    topic TEXT NOT NULL,
    payload jsonb NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    locked_until TIMESTAMP,
    locked_by uuid,
    last_error TEXT,
    delivered_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX outbox_messages_due_idx ON outbox_messages (topic, status, next_attempt_at);
CREATE INDEX outbox_messages_delivered_at_idx ON outbox_messages (delivered_at);
