-- Recovery flows by code (Kratos' `selfservice_recovery_flows` with its code inline): one code per flow,
-- stored as a keyed hash (`code_hash`), consumed by one conditional update; `code_attempts`
-- counts submissions of the current code. `address_id` is the matching `identity_recovery_addresses` row,
-- NULL when the address typed is unknown (the flow then answers exactly as for a known one).
CREATE TABLE selfservice_recovery_flows (
    id TEXT PRIMARY KEY NOT NULL,
    flow_type TEXT NOT NULL,
    request_url TEXT NOT NULL,
    return_to TEXT,
    csrf_token_hash TEXT,
    state TEXT NOT NULL,
    active TEXT,
    address TEXT,
    address_id TEXT,
    code_hash TEXT,
    code_attempts INTEGER NOT NULL DEFAULT 0,
    ui_messages TEXT NOT NULL,
    issued_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX selfservice_recovery_flows_expires_at_idx ON selfservice_recovery_flows (expires_at);
