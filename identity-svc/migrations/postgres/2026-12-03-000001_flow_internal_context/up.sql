-- Server-side state of a flow that is never shown to the client (Kratos' `internal_context`): a
-- TOTP secret being enrolled, a WebAuthn ceremony's challenge, an upstream provider's state and
-- PKCE verifier. A JSON object keyed by method; '{}' when empty.
ALTER TABLE selfservice_login_flows ADD COLUMN internal_context JSONB NOT NULL DEFAULT '{}';
ALTER TABLE selfservice_registration_flows ADD COLUMN internal_context JSONB NOT NULL DEFAULT '{}';
ALTER TABLE selfservice_settings_flows ADD COLUMN internal_context JSONB NOT NULL DEFAULT '{}';
