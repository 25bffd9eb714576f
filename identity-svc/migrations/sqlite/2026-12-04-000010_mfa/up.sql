-- Second factors (src/mfa/). The TOTP secret itself is the `totp` credential's `config`, sealed
-- under secrets.cipher; beside it this table keeps the last time step a code was accepted for,
-- so that a code works once (a conditional UPDATE … WHERE last_step < step).
CREATE TABLE identity_totp_steps (
    identity_credential_id TEXT PRIMARY KEY NOT NULL REFERENCES identity_credentials (id) ON DELETE CASCADE,
    last_step BIGINT NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

-- Recovery codes (Kratos' lookup secrets) of a `lookup_secret` credential: a keyed hash (HMAC-SHA256
-- under a key derived from secrets.cipher) to find and consume a code with one conditional UPDATE,
-- and the code sealed under secrets.cipher so that the owner can reveal it again. A database leak
-- shows neither.
CREATE TABLE identity_lookup_codes (
    id TEXT PRIMARY KEY NOT NULL,
    identity_credential_id TEXT NOT NULL REFERENCES identity_credentials (id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    sealed_code TEXT NOT NULL,
    key_fingerprint TEXT NOT NULL,
    position INTEGER NOT NULL,
    used_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (identity_credential_id, code_hash)
);
