-- Opaque access tokens, stored only as keyed hashes. `code_id` is the chain back to the
-- authorization code that issued the token (no foreign key: the janitor may delete a spent code
-- before its tokens expire), so a replayed code revokes what it issued.
CREATE TABLE oauth2_access_tokens (
    id TEXT PRIMARY KEY NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    code_id TEXT,
    client_id TEXT NOT NULL REFERENCES oauth2_clients (client_id) ON DELETE CASCADE,
    subject TEXT NOT NULL,
    scope TEXT NOT NULL,
    audience TEXT NOT NULL,
    -- {"userinfo": consent session.id_token, "ext": consent session.access_token}
    claims TEXT NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX oauth2_access_tokens_code_id_idx ON oauth2_access_tokens (code_id);
CREATE INDEX oauth2_access_tokens_expires_at_idx ON oauth2_access_tokens (expires_at);
