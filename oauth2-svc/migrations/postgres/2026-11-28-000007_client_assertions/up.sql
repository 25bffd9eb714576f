-- private_key_jwt replay protection (RFC 7523 §3, OIDC Core §9): the jti of every accepted
-- client assertion, as a SHA-256 digest, kept until the assertion's exp. A second insert of the
-- same (client_id, jti_hash) conflicts: the assertion was replayed.
CREATE TABLE oauth2_client_assertion_jtis (
    id uuid PRIMARY KEY,
    client_id TEXT NOT NULL,
    jti_hash TEXT NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (client_id, jti_hash)
);
CREATE INDEX oauth2_client_assertion_jtis_expires_at ON oauth2_client_assertion_jtis (expires_at);
