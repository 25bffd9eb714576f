DROP TABLE oauth2_logout_requests;
DROP TABLE oauth2_consent_sessions;
