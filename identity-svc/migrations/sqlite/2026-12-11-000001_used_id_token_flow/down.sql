ALTER TABLE oidc_used_id_tokens DROP COLUMN flow_id;
