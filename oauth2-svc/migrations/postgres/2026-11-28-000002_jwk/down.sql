DROP TABLE oauth2_jwk;
