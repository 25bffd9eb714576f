-- Failed client authentications in the current window (CA-10): beyond
-- oauth2.client_authentication.max_failures the client is throttled until the window ends.
ALTER TABLE oauth2_clients ADD COLUMN auth_failures INTEGER NOT NULL DEFAULT 0;
ALTER TABLE oauth2_clients ADD COLUMN auth_window_start TIMESTAMP;
