CREATE TABLE sessions (
    id uuid PRIMARY KEY,
    identity_id uuid NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    logout_token_hash TEXT UNIQUE,
    active BOOLEAN NOT NULL,
    aal TEXT NOT NULL,
    authentication_methods jsonb NOT NULL,
    authenticated_at TIMESTAMP NOT NULL,
    issued_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX sessions_identity_id_idx ON sessions (identity_id);
CREATE INDEX sessions_expires_at_idx ON sessions (expires_at);

CREATE TABLE selfservice_login_flows (
    id uuid PRIMARY KEY,
    flow_type TEXT NOT NULL,
    request_url TEXT NOT NULL,
    return_to TEXT,
    csrf_token_hash TEXT,
    state TEXT NOT NULL,
    requested_aal TEXT NOT NULL,
    refresh BOOLEAN NOT NULL,
    identifier TEXT,
    ui_messages jsonb NOT NULL,
    issued_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX selfservice_login_flows_expires_at_idx ON selfservice_login_flows (expires_at);
