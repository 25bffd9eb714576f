-- Registration flows (Kratos' selfservice_registration_flows). `traits` holds what the last
-- submission typed (to refill the form), never the password.
CREATE TABLE selfservice_registration_flows (
    id TEXT PRIMARY KEY NOT NULL,
    flow_type TEXT NOT NULL,
    request_url TEXT NOT NULL,
    return_to TEXT,
    csrf_token_hash TEXT,
    identity_schema TEXT NOT NULL,
    state TEXT NOT NULL,
    active TEXT,
    traits TEXT,
    ui_messages TEXT NOT NULL,
    issued_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX selfservice_registration_flows_expires_at_idx ON selfservice_registration_flows (expires_at);
