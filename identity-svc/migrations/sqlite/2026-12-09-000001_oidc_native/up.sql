-- Native sign-in with an upstream provider (src/flow/oidc/native.rs, exchange.rs).
--
-- ID tokens submitted to api flows are used once: a keyed hash (HMAC-SHA256 under secrets.cookie)
-- of the token is kept until the token expires (the janitor deletes later rows).
CREATE TABLE oidc_used_id_tokens (
    token_hash TEXT PRIMARY KEY NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX oidc_used_id_tokens_expires_at_idx ON oidc_used_id_tokens (expires_at);

-- Kratos' session token exchange: an api flow started with return_session_token_exchange_code
-- gets an init code; the browser leg ends at the app's return_to with a return_to code; both
-- (keyed hashes only) redeem the session once. The session is set when the flow completes.
CREATE TABLE session_token_exchanges (
    id TEXT PRIMARY KEY NOT NULL,
    flow_id TEXT NOT NULL UNIQUE,
    init_code_hash TEXT NOT NULL UNIQUE,
    return_to_code_hash TEXT UNIQUE,
    session_id TEXT REFERENCES sessions (id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP
);
CREATE INDEX session_token_exchanges_expires_at_idx ON session_token_exchanges (expires_at);
