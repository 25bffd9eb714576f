-- The courier's outgoing mail (Kratos' `courier_messages`), written in the transaction of the flow
-- change that causes it and sent by a background worker over SMTP (see src/courier). `status` is
-- queued -> processing (leased by a worker: `locked_until`/`locked_by`) -> sent | abandoned;
-- `body` is the plain-text body, `html_body` the HTML alternative. Both may hold a one-time code.
CREATE TABLE courier_messages (
    id TEXT PRIMARY KEY NOT NULL,
    message_type TEXT NOT NULL,
    status TEXT NOT NULL,
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    html_body TEXT NOT NULL,
    template_type TEXT NOT NULL,
    send_count INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    locked_until TIMESTAMP,
    locked_by TEXT,
    last_error TEXT,
    sent_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX courier_messages_due_idx ON courier_messages (status, next_attempt_at);
CREATE INDEX courier_messages_recipient_idx ON courier_messages (recipient);
CREATE INDEX courier_messages_sent_at_idx ON courier_messages (sent_at);

-- One row per delivery attempt (Kratos' `courier_message_dispatches`): `success` or `failed` with
-- the error.
CREATE TABLE courier_message_dispatches (
    id TEXT PRIMARY KEY NOT NULL,
    message_id TEXT NOT NULL REFERENCES courier_messages (id) ON DELETE CASCADE,
    status TEXT NOT NULL,
    error TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX courier_message_dispatches_message_idx ON courier_message_dispatches (message_id);
