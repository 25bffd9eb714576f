ALTER TABLE oauth2_clients DROP COLUMN auth_window_start;
ALTER TABLE oauth2_clients DROP COLUMN auth_failures;
