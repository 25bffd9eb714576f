//! The tables of native upstream sign-in: used ID tokens and session token exchanges
//! (src/flow/oidc/native.rs, src/flow/oidc/exchange.rs).

diesel::table! {
    use diesel::sql_types::*;

    use service_kit::db::DbUuid;

    /// ID tokens already submitted (SHA-256 of the JWS signing input) with the flow that took
    /// them, until they expire.
    oidc_used_id_tokens (token_hash) {
        token_hash -> Text,
        expires_at -> Timestamp,
        flow_id -> Nullable<DbUuid>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use service_kit::db::DbUuid;

    /// Kratos' session token exchange codes (keyed hashes) of api flows.
    session_token_exchanges (id) {
        id -> DbUuid,
        flow_id -> DbUuid,
        init_code_hash -> Text,
        return_to_code_hash -> Nullable<Text>,
        session_id -> Nullable<DbUuid>,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}
