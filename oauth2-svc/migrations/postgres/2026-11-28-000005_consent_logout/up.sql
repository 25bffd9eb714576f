-- Granted consents (Hydra's consent sessions): one row per consent verifier redeemed, id = the
-- flow (the consent_request_id and token chain). `remember` rows make later requests `skip`.
CREATE TABLE oauth2_consent_sessions (
    id uuid PRIMARY KEY,
    subject TEXT NOT NULL,
    client_id TEXT NOT NULL REFERENCES oauth2_clients (client_id) ON DELETE CASCADE,
    login_session_id uuid,
    grant_scope jsonb NOT NULL,
    grant_audience jsonb NOT NULL,
    remember BOOLEAN NOT NULL,
    remember_for BIGINT NOT NULL,
    -- NULL: remembered indefinitely (remember_for = 0) or not remembered at all.
    expires_at TIMESTAMP,
    -- {"session": …, "context": …, "consent_request": …, "acr": …, "amr": […]}
    data jsonb NOT NULL,
    handled_at TIMESTAMP NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX oauth2_consent_sessions_subject_idx ON oauth2_consent_sessions (subject, client_id);
CREATE INDEX oauth2_consent_sessions_login_session_idx ON oauth2_consent_sessions (login_session_id);

-- Logout requests (RP-initiated logout), answered once like login and consent challenges.
CREATE TABLE oauth2_logout_requests (
    id uuid PRIMARY KEY,
    challenge_hash TEXT NOT NULL UNIQUE,
    verifier_hash TEXT UNIQUE,
    browser_hash TEXT NOT NULL,
    state TEXT NOT NULL,
    subject TEXT NOT NULL,
    sid uuid NOT NULL,
    client_id TEXT,
    request_url TEXT NOT NULL,
    rp_initiated BOOLEAN NOT NULL,
    -- The validated post_logout_redirect_uri with `state` added; NULL: urls.post_logout_redirect.
    post_logout_redirect TEXT,
    requested_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX oauth2_logout_requests_requested_at_idx ON oauth2_logout_requests (requested_at);
