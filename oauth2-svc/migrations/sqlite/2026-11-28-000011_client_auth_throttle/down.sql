DROP TABLE oauth2_client_auth_throttle;
ALTER TABLE oauth2_clients ADD COLUMN auth_failures INTEGER NOT NULL DEFAULT 0;
ALTER TABLE oauth2_clients ADD COLUMN auth_window_start TIMESTAMP;
