-- A credential's secret material (a password credential's `{"hashed_password": …}`); never
-- returned by the API. JSON as TEXT, as everywhere on SQLite.
ALTER TABLE identity_credentials ADD COLUMN config TEXT;
