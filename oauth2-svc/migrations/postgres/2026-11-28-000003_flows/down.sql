DROP TABLE oauth2_codes;
DROP TABLE oauth2_login_sessions;
DROP TABLE oauth2_flows;
