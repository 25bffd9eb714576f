DROP TABLE identity_lookup_codes;
DROP TABLE identity_totp_steps;
