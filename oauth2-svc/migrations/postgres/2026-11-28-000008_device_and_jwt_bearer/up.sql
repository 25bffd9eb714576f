-- RFC 8628 device authorization: one row per device code. Device and user codes are stored
-- only as keyed hashes. state: pending → claimed (a user entered the user code) → approved |
-- denied → used (tokens issued, once).
CREATE TABLE oauth2_device_codes (
    id uuid PRIMARY KEY,
    client_id TEXT NOT NULL REFERENCES oauth2_clients (client_id) ON DELETE CASCADE,
    device_code_hash TEXT NOT NULL UNIQUE,
    user_code_hash TEXT NOT NULL UNIQUE,
    state TEXT NOT NULL,
    -- {"scope": [...], "audience": [...]} as requested by the device.
    request jsonb NOT NULL,
    -- The authorization flow the user went through, and what it granted.
    flow_id uuid,
    subject TEXT,
    grant_data jsonb,
    interval_secs INTEGER NOT NULL,
    last_polled_at TIMESTAMP,
    expires_at TIMESTAMP NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX oauth2_device_codes_expires_at_idx ON oauth2_device_codes (expires_at);
CREATE INDEX oauth2_device_codes_flow_id_idx ON oauth2_device_codes (flow_id);

-- Device challenges: a browser at the verification page, bound to it by cookie; answered once
-- by the UI with a user code (wrong user codes are counted and end the challenge).
CREATE TABLE oauth2_device_challenges (
    id uuid PRIMARY KEY,
    challenge_hash TEXT NOT NULL UNIQUE,
    verifier_hash TEXT UNIQUE,
    browser_hash TEXT NOT NULL,
    state TEXT NOT NULL,
    device_code_id uuid REFERENCES oauth2_device_codes (id) ON DELETE CASCADE,
    failed_attempts INTEGER NOT NULL,
    request_url TEXT NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX oauth2_device_challenges_expires_at_idx ON oauth2_device_challenges (expires_at);

-- RFC 7523 trust relationships (Hydra's trustedOAuth2JwtGrantIssuer); `subject` is '' when
-- any subject is allowed.
CREATE TABLE oauth2_trusted_jwt_issuers (
    id uuid PRIMARY KEY,
    issuer TEXT NOT NULL,
    subject TEXT NOT NULL,
    allow_any_subject BOOLEAN NOT NULL,
    scope jsonb NOT NULL,
    kid TEXT NOT NULL,
    public_jwk jsonb NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (issuer, subject, kid)
);
CREATE INDEX oauth2_trusted_jwt_issuers_issuer_idx ON oauth2_trusted_jwt_issuers (issuer);

-- Seen assertion ids (keyed hash of issuer and jti), kept until the assertion expires.
CREATE TABLE oauth2_jwt_assertions (
    id uuid PRIMARY KEY,
    jti_hash TEXT NOT NULL UNIQUE,
    expires_at TIMESTAMP NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX oauth2_jwt_assertions_expires_at_idx ON oauth2_jwt_assertions (expires_at);
