-- One row per authorization request, from the login challenge to the issued code.
CREATE TABLE oauth2_flows (
    id uuid PRIMARY KEY,
    client_id TEXT NOT NULL REFERENCES oauth2_clients (client_id) ON DELETE CASCADE,
    request_url TEXT NOT NULL,
    request jsonb NOT NULL,
    browser_hash TEXT NOT NULL,
    state TEXT NOT NULL,
    login_challenge_hash TEXT NOT NULL UNIQUE,
    login_verifier_hash TEXT UNIQUE,
    consent_challenge_hash TEXT UNIQUE,
    consent_verifier_hash TEXT UNIQUE,
    subject TEXT,
    login_session_id uuid,
    -- The UI's decisions and what follows from them (skip flags, auth time).
    decisions jsonb NOT NULL,
    requested_at TIMESTAMP NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX oauth2_flows_requested_at_idx ON oauth2_flows (requested_at);

-- Remembered logins (the `sid` of ID tokens).
CREATE TABLE oauth2_login_sessions (
    id uuid PRIMARY KEY,
    subject TEXT NOT NULL,
    authenticated_at TIMESTAMP NOT NULL,
    remember BOOLEAN NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX oauth2_login_sessions_subject_idx ON oauth2_login_sessions (subject);

-- Authorization codes, stored as keyed hashes; consumed once.
CREATE TABLE oauth2_codes (
    id uuid PRIMARY KEY,
    code_hash TEXT NOT NULL UNIQUE,
    flow_id uuid NOT NULL REFERENCES oauth2_flows (id) ON DELETE CASCADE,
    client_id TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    code_challenge TEXT,
    subject TEXT NOT NULL,
    -- Everything the token endpoint needs: session id, auth time, nonce, granted scope and
    -- audience, acr/amr and the consent's extra claims.
    grant_data jsonb NOT NULL,
    used BOOLEAN NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    created_at TIMESTAMP NOT NULL
);
