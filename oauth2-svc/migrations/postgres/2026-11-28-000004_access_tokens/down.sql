DROP TABLE oauth2_access_tokens;
