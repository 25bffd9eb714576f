-- Settings flows (Kratos' selfservice_settings_flows): bound to the identity of the session
-- that started them. `traits` holds what the last profile submission typed (to refill the
-- form), never a password.
CREATE TABLE selfservice_settings_flows (
    id uuid PRIMARY KEY,
    flow_type TEXT NOT NULL,
    request_url TEXT NOT NULL,
    return_to TEXT,
    csrf_token_hash TEXT,
    identity_id uuid NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    state TEXT NOT NULL,
    active TEXT,
    traits jsonb,
    ui_messages jsonb NOT NULL,
    issued_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX selfservice_settings_flows_expires_at_idx ON selfservice_settings_flows (expires_at);
