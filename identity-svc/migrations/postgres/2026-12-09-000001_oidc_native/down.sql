DROP TABLE session_token_exchanges;
DROP TABLE oidc_used_id_tokens;
