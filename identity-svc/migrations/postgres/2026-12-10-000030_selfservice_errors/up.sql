-- Kratos' user-facing errors (src/flow/errors): a browser error that no flow can show is stored
-- here and the browser is sent to selfservice.flows.error.ui_url?id=<id>. `error` is only the
-- genericError envelope already sent to clients (never a secret, code, token or password).
-- `fingerprint` is a keyed hash (HMAC-SHA256 under secrets.cookie) of the browser's CSRF cookie
-- (if any) and the error, so a browser repeating one error reuses a recent row. The janitor
-- deletes rows once expired.
CREATE TABLE selfservice_errors (
    id uuid PRIMARY KEY,
    error jsonb NOT NULL,
    fingerprint TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX selfservice_errors_fingerprint_idx ON selfservice_errors (fingerprint, created_at);
CREATE INDEX selfservice_errors_expires_at_idx ON selfservice_errors (expires_at);
