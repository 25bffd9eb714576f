-- The per-client counters of 000010 let anyone lock a client out; counting per client and
-- address replaces them.
ALTER TABLE oauth2_clients DROP COLUMN auth_window_start;
ALTER TABLE oauth2_clients DROP COLUMN auth_failures;
-- Failed client authentications per (client_id, client address) in the current window
-- (CA-10): a guesser locks out only itself. key_hash is a keyed hash of both.
CREATE TABLE oauth2_client_auth_throttle (
    key_hash TEXT PRIMARY KEY NOT NULL,
    window_start TIMESTAMP NOT NULL,
    failures INTEGER NOT NULL
);
CREATE INDEX oauth2_client_auth_throttle_window_start ON oauth2_client_auth_throttle (window_start);
