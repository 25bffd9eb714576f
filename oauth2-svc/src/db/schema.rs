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
