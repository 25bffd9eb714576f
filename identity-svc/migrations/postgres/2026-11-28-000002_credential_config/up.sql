-- A credential's secret material (a password credential's `{"hashed_password": …}`); never
-- returned by the API.
ALTER TABLE identity_credentials ADD COLUMN config jsonb;
