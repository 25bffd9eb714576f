ALTER TABLE oauth2_clients DROP COLUMN registration_token_hash;
