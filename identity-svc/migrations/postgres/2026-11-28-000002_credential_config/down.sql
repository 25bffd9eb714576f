ALTER TABLE identity_credentials DROP COLUMN config;
