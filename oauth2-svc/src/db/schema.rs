//! The portable schema (hand-written: the column types must work on both backends).

diesel::table! {
    use diesel::sql_types::*;
    use service_kit::db::{DbJson, DbUuid};

    oauth2_clients (id) {
        id -> DbUuid,
        client_id -> Text,
        client_name -> Text,
        owner -> Text,
        secret_hash -> Nullable<Text>,
        metadata -> DbJson,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use service_kit::db::{DbJson, DbUuid};

    oauth2_flows (id) {
        id -> DbUuid,
        client_id -> Text,
        request_url -> Text,
        request -> DbJson,
        browser_hash -> Text,
        state -> Text,
        login_challenge_hash -> Text,
        login_verifier_hash -> Nullable<Text>,
        consent_challenge_hash -> Nullable<Text>,
        consent_verifier_hash -> Nullable<Text>,
        subject -> Nullable<Text>,
        login_session_id -> Nullable<DbUuid>,
        decisions -> DbJson,
        requested_at -> Timestamp,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use service_kit::db::DbUuid;

    oauth2_login_sessions (id) {
        id -> DbUuid,
        subject -> Text,
        authenticated_at -> Timestamp,
        remember -> Bool,
        expires_at -> Timestamp,
        created_at -> Timestamp,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use service_kit::db::{DbJson, DbUuid};

    oauth2_codes (id) {
        id -> DbUuid,
        code_hash -> Text,
        flow_id -> DbUuid,
        client_id -> Text,
        redirect_uri -> Text,
        code_challenge -> Nullable<Text>,
        subject -> Text,
        grant_data -> DbJson,
        used -> Bool,
        expires_at -> Timestamp,
        created_at -> Timestamp,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use service_kit::db::{DbJson, DbUuid};

    oauth2_jwk (id) {
        id -> DbUuid,
        set_id -> Text,
        seq -> Integer,
        kid -> Text,
        alg -> Text,
        #[sql_name = "use"]
        key_use -> Text,
        public_jwk -> DbJson,
        private_ciphertext -> Text,
        secret_fingerprint -> Text,
        state -> Text,
        active_from -> Timestamp,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use service_kit::db::{DbJson, DbUuid};

    oauth2_access_tokens (id) {
        id -> DbUuid,
        token_hash -> Text,
        code_id -> Nullable<DbUuid>,
        client_id -> Text,
        subject -> Text,
        scope -> DbJson,
        audience -> DbJson,
        claims -> DbJson,
        expires_at -> Timestamp,
        created_at -> Timestamp,
    }
}
