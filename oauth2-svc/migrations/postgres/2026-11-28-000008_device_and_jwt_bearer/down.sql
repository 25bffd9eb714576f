DROP TABLE oauth2_jwt_assertions;
DROP TABLE oauth2_trusted_jwt_issuers;
DROP TABLE oauth2_device_challenges;
DROP TABLE oauth2_device_codes;
