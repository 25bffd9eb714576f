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
        registration_token_hash -> Nullable<Text>,
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

diesel::table! {
    use diesel::sql_types::*;
    use service_kit::db::{DbJson, DbUuid};

    oauth2_consent_sessions (id) {
        id -> DbUuid,
        subject -> Text,
        client_id -> Text,
        login_session_id -> Nullable<DbUuid>,
        grant_scope -> DbJson,
        grant_audience -> DbJson,
        remember -> Bool,
        remember_for -> BigInt,
        expires_at -> Nullable<Timestamp>,
        data -> DbJson,
        handled_at -> Timestamp,
        created_at -> Timestamp,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use service_kit::db::DbUuid;

    oauth2_logout_requests (id) {
        id -> DbUuid,
        challenge_hash -> Text,
        verifier_hash -> Nullable<Text>,
        browser_hash -> Text,
        state -> Text,
        subject -> Text,
        sid -> DbUuid,
        client_id -> Nullable<Text>,
        request_url -> Text,
        rp_initiated -> Bool,
        post_logout_redirect -> Nullable<Text>,
        requested_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use service_kit::db::{DbJson, DbUuid};

    oauth2_refresh_tokens (id) {
        id -> DbUuid,
        token_hash -> Text,
        chain_id -> DbUuid,
        client_id -> Text,
        subject -> Text,
        scope -> DbJson,
        grant_data -> DbJson,
        used_at -> Nullable<Timestamp>,
        grace_used -> Bool,
        revoked -> Bool,
        expires_at -> Timestamp,
        created_at -> Timestamp,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use service_kit::db::{DbJson, DbUuid};

    oauth2_device_codes (id) {
        id -> DbUuid,
        client_id -> Text,
        device_code_hash -> Text,
        user_code_hash -> Text,
        state -> Text,
        request -> DbJson,
        flow_id -> Nullable<DbUuid>,
        subject -> Nullable<Text>,
        grant_data -> Nullable<DbJson>,
        interval_secs -> Integer,
        last_polled_at -> Nullable<Timestamp>,
        expires_at -> Timestamp,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use service_kit::db::DbUuid;

    oauth2_device_challenges (id) {
        id -> DbUuid,
        challenge_hash -> Text,
        verifier_hash -> Nullable<Text>,
        browser_hash -> Text,
        state -> Text,
        device_code_id -> Nullable<DbUuid>,
        failed_attempts -> Integer,
        request_url -> Text,
        expires_at -> Timestamp,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use service_kit::db::{DbJson, DbUuid};

    oauth2_trusted_jwt_issuers (id) {
        id -> DbUuid,
        issuer -> Text,
        subject -> Text,
        allow_any_subject -> Bool,
        scope -> DbJson,
        kid -> Text,
        public_jwk -> DbJson,
        expires_at -> Timestamp,
        created_at -> Timestamp,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use service_kit::db::DbUuid;

    oauth2_jwt_assertions (id) {
        id -> DbUuid,
        jti_hash -> Text,
        expires_at -> Timestamp,
        created_at -> Timestamp,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use service_kit::db::DbUuid;

    oauth2_client_assertion_jtis (id) {
        id -> DbUuid,
        client_id -> Text,
        jti_hash -> Text,
        expires_at -> Timestamp,
        created_at -> Timestamp,
    }
}

diesel::table! {
    oauth2_client_auth_throttle (key_hash) {
        key_hash -> Text,
        window_start -> Timestamp,
        failures -> Integer,
    }
}
