ALTER TABLE selfservice_settings_flows DROP COLUMN internal_context;
ALTER TABLE selfservice_registration_flows DROP COLUMN internal_context;
ALTER TABLE selfservice_login_flows DROP COLUMN internal_context;
