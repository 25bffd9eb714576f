//! The table of the user-facing error flow (src/flow/errors).

diesel::table! {
    use diesel::sql_types::*;
    use service_kit::db::{DbJson, DbUuid};

    /// Browser errors no flow could show, until they expire.
    selfservice_errors (id) {
        id -> DbUuid,
        error -> DbJson,
        fingerprint -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        expires_at -> Timestamp,
    }
}
