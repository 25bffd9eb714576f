-- RFC 7592: the keyed hash of a dynamically registered client's registration access token;
-- NULL for clients made through the admin API, which cannot be managed at /oauth2/register.
ALTER TABLE oauth2_clients ADD COLUMN registration_token_hash TEXT;
