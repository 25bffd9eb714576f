-- Refresh tokens, stored only as keyed hashes. `chain_id` is the authorization code that started
-- the chain (the same value as oauth2_access_tokens.code_id), so a replay of a used refresh token
-- or of the code revokes every refresh and access token of the chain. A token is consumed by one
-- conditional UPDATE of `used_at`; `grace_used` records the one retry a grace period allows.
CREATE TABLE oauth2_refresh_tokens (
    id uuid PRIMARY KEY NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    chain_id uuid NOT NULL,
    client_id TEXT NOT NULL REFERENCES oauth2_clients (client_id) ON DELETE CASCADE,
    subject TEXT NOT NULL,
    scope jsonb NOT NULL,
    -- What the authorization granted (auth_time, sid, acr/amr, audience, consent claims).
    grant_data jsonb NOT NULL,
    used_at TIMESTAMP,
    grace_used BOOLEAN NOT NULL,
    revoked BOOLEAN NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX oauth2_refresh_tokens_chain_id_idx ON oauth2_refresh_tokens (chain_id);
CREATE INDEX oauth2_refresh_tokens_client_id_idx ON oauth2_refresh_tokens (client_id);
CREATE INDEX oauth2_refresh_tokens_expires_at_idx ON oauth2_refresh_tokens (expires_at);
CREATE INDEX oauth2_access_tokens_client_id_idx ON oauth2_access_tokens (client_id);
