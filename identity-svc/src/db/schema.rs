//! The portable schema (hand-written: the column types must work on both backends).

diesel::table! {
    use diesel::sql_types::*;
    use service_kit::db::{DbJson, DbUuid};

    identities (id) {
        id -> DbUuid,
        schema_id -> Text,
        state -> Text,
        state_changed_at -> Nullable<Timestamp>,
        traits -> DbJson,
        metadata_public -> Nullable<DbJson>,
        metadata_admin -> Nullable<DbJson>,
        external_id -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use service_kit::db::{DbJson, DbUuid};

    identity_credentials (id) {
        id -> DbUuid,
        identity_id -> DbUuid,
        credential_type -> Text,
        version -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        /// Secret material (a password's `{"hashed_password": …}`); never in a response.
        config -> Nullable<DbJson>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use service_kit::db::DbUuid;

    identity_credential_identifiers (id) {
        id -> DbUuid,
        identity_credential_id -> DbUuid,
        identity_id -> DbUuid,
        credential_type -> Text,
        identifier -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use service_kit::db::DbUuid;

    identity_verifiable_addresses (id) {
        id -> DbUuid,
        identity_id -> DbUuid,
        via -> Text,
        value -> Text,
        verified -> Bool,
        status -> Text,
        verified_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use service_kit::db::DbUuid;

    identity_recovery_addresses (id) {
        id -> DbUuid,
        identity_id -> DbUuid,
        via -> Text,
        value -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

// For the subquery of the `credentials_identifier` filter.
diesel::allow_tables_to_appear_in_same_query!(identities, identity_credential_identifiers);
// For the password lookup of the login flow (identifier → credential → identity).
diesel::allow_tables_to_appear_in_same_query!(
    identity_credentials,
    identity_credential_identifiers
);
diesel::allow_tables_to_appear_in_same_query!(identity_credentials, identities);

diesel::table! {
    use diesel::sql_types::*;
    use service_kit::db::{DbJson, DbUuid};

    sessions (id) {
        id -> DbUuid,
        identity_id -> DbUuid,
        token_hash -> Text,
        logout_token_hash -> Nullable<Text>,
        active -> Bool,
        aal -> Text,
        authentication_methods -> DbJson,
        authenticated_at -> Timestamp,
        issued_at -> Timestamp,
        expires_at -> Timestamp,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use service_kit::db::{DbJson, DbUuid};

    selfservice_login_flows (id) {
        id -> DbUuid,
        flow_type -> Text,
        request_url -> Text,
        return_to -> Nullable<Text>,
        csrf_token_hash -> Nullable<Text>,
        state -> Text,
        requested_aal -> Text,
        refresh -> Bool,
        identifier -> Nullable<Text>,
        ui_messages -> DbJson,
        issued_at -> Timestamp,
        expires_at -> Timestamp,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        /// Server-side state per method (never shown): `{"totp": …, "webauthn": …}`.
        internal_context -> DbJson,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use service_kit::db::{DbJson, DbUuid};

    selfservice_registration_flows (id) {
        id -> DbUuid,
        flow_type -> Text,
        request_url -> Text,
        return_to -> Nullable<Text>,
        csrf_token_hash -> Nullable<Text>,
        identity_schema -> Text,
        state -> Text,
        active -> Nullable<Text>,
        traits -> Nullable<DbJson>,
        ui_messages -> DbJson,
        issued_at -> Timestamp,
        expires_at -> Timestamp,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        /// Server-side state per method (never shown): `{"totp": …, "webauthn": …}`.
        internal_context -> DbJson,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use service_kit::db::{DbJson, DbUuid};

    selfservice_settings_flows (id) {
        id -> DbUuid,
        flow_type -> Text,
        request_url -> Text,
        return_to -> Nullable<Text>,
        csrf_token_hash -> Nullable<Text>,
        identity_id -> DbUuid,
        state -> Text,
        active -> Nullable<Text>,
        traits -> Nullable<DbJson>,
        ui_messages -> DbJson,
        issued_at -> Timestamp,
        expires_at -> Timestamp,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        /// Server-side state per method (never shown): `{"totp": …, "webauthn": …}`.
        internal_context -> DbJson,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use service_kit::db::{DbJson, DbUuid};

    outbox_messages (id) {
        id -> DbUuid,
        topic -> Text,
        payload -> DbJson,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        locked_until -> Nullable<Timestamp>,
        locked_by -> Nullable<DbUuid>,
        last_error -> Nullable<Text>,
        delivered_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use service_kit::db::DbUuid;

    courier_messages (id) {
        id -> DbUuid,
        message_type -> Text,
        status -> Text,
        recipient -> Text,
        subject -> Text,
        body -> Text,
        html_body -> Text,
        template_type -> Text,
        send_count -> Integer,
        next_attempt_at -> Timestamp,
        locked_until -> Nullable<Timestamp>,
        locked_by -> Nullable<DbUuid>,
        last_error -> Nullable<Text>,
        sent_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use service_kit::db::{DbJson, DbUuid};

    courier_message_dispatches (id) {
        id -> DbUuid,
        message_id -> DbUuid,
        status -> Text,
        error -> Nullable<DbJson>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use service_kit::db::{DbJson, DbUuid};

    selfservice_verification_flows (id) {
        id -> DbUuid,
        flow_type -> Text,
        request_url -> Text,
        return_to -> Nullable<Text>,
        csrf_token_hash -> Nullable<Text>,
        state -> Text,
        active -> Nullable<Text>,
        address -> Nullable<Text>,
        address_id -> Nullable<DbUuid>,
        code_hash -> Nullable<Text>,
        code_attempts -> Integer,
        ui_messages -> DbJson,
        issued_at -> Timestamp,
        expires_at -> Timestamp,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use service_kit::db::{DbJson, DbUuid};

    selfservice_recovery_flows (id) {
        id -> DbUuid,
        flow_type -> Text,
        request_url -> Text,
        return_to -> Nullable<Text>,
        csrf_token_hash -> Nullable<Text>,
        state -> Text,
        active -> Nullable<Text>,
        address -> Nullable<Text>,
        address_id -> Nullable<DbUuid>,
        code_hash -> Nullable<Text>,
        code_attempts -> Integer,
        ui_messages -> DbJson,
        issued_at -> Timestamp,
        expires_at -> Timestamp,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    use diesel::sql_types::*;

    /// Brute-force counters of password sign-in, by keyed hash (src/throttle).
    login_throttle (key_hash) {
        key_hash -> Text,
        window_start -> Timestamp,
        failures -> Integer,
        locked_until -> Nullable<Timestamp>,
    }
}
