//! The tables of the second factors (src/mfa/).

diesel::table! {
    use diesel::sql_types::*;
    use service_kit::db::DbUuid;

    /// The last time step a TOTP code was accepted for, per `totp` credential.
    identity_totp_steps (identity_credential_id) {
        identity_credential_id -> DbUuid,
        last_step -> BigInt,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use service_kit::db::DbUuid;

    /// Recovery codes of a `lookup_secret` credential: keyed hash and sealed code.
    identity_lookup_codes (id) {
        id -> DbUuid,
        identity_credential_id -> DbUuid,
        code_hash -> Text,
        sealed_code -> Text,
        key_fingerprint -> Text,
        position -> Integer,
        used_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}
